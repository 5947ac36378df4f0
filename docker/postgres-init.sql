-- Druid's metadata database beside Dagster's (the image creates POSTGRES_DB=dagster).
CREATE DATABASE druid;
