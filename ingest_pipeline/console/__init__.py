"""What `ingest-pipeline` shows a person: upload plans, run following, verdicts, dataset status.

Pure parts (paths, verdicts, tables) are separate from the parts that read Dagster's instance
and Druid, so they can be tested without a stack. Nothing here reads asset output values: only
run status and tags, step and materialization events (their metadata keys) and check
evaluations.
"""
