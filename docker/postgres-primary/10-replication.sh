#!/bin/sh
# Run once by the postgres image when it creates the primary's data folder
# (/docker-entrypoint-initdb.d): a role for the replica's pg_basebackup and streaming, and
# the pg_hba.conf line that lets it connect for replication (the image's own "host all
# all all" line does not cover the replication pseudo-database).
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<SQL
CREATE ROLE replicator WITH REPLICATION LOGIN PASSWORD '$REPLICATION_PASSWORD';
SQL
echo "host replication replicator all scram-sha-256" >>"$PGDATA/pg_hba.conf"
