-- Adopting a piwheels 0.23 database: its tables are exactly those of
-- migration 0001 and stay as they are, data and all. Its view and stored
-- functions go: this software keeps that logic in the application, and the
-- functions would otherwise go stale as later migrations change the tables.

DROP VIEW IF EXISTS builds_pending;

DROP FUNCTION IF EXISTS get_pypi_serial();
DROP FUNCTION IF EXISTS set_pypi_serial(INTEGER);
DROP FUNCTION IF EXISTS add_new_package(TEXT, TEXT, TEXT);
DROP FUNCTION IF EXISTS add_new_package_version(TEXT, TEXT, TIMESTAMP, TEXT);
DROP FUNCTION IF EXISTS add_package_name(TEXT, TEXT, TIMESTAMP);
DROP FUNCTION IF EXISTS get_project_data(TEXT);
DROP FUNCTION IF EXISTS get_package_aliases(TEXT);
DROP FUNCTION IF EXISTS set_package_description(TEXT, TEXT);
DROP FUNCTION IF EXISTS skip_package(TEXT, TEXT);
DROP FUNCTION IF EXISTS skip_package_version(TEXT, TEXT, TEXT);
DROP FUNCTION IF EXISTS delete_package(TEXT);
DROP FUNCTION IF EXISTS delete_version(TEXT, TEXT);
DROP FUNCTION IF EXISTS yank_version(TEXT, TEXT);
DROP FUNCTION IF EXISTS unyank_version(TEXT, TEXT);
DROP FUNCTION IF EXISTS log_download(TEXT, INET, TIMESTAMP, TEXT, TEXT, TEXT, TEXT, TEXT, TEXT, TEXT, TEXT, TEXT, TEXT);
DROP FUNCTION IF EXISTS log_search(TEXT, INET, TIMESTAMP, TEXT, TEXT, TEXT, TEXT, TEXT, TEXT, TEXT, TEXT, TEXT, TEXT);
DROP FUNCTION IF EXISTS log_project(TEXT, INET, TIMESTAMP, TEXT);
DROP FUNCTION IF EXISTS log_json(TEXT, INET, TIMESTAMP, TEXT);
DROP FUNCTION IF EXISTS log_page(TEXT, INET, TIMESTAMP, TEXT);
DROP FUNCTION IF EXISTS log_build_success(TEXT, TEXT, INTEGER, INTERVAL, TEXT, files[], dependencies[]);
DROP FUNCTION IF EXISTS log_build_failure(TEXT, TEXT, INTEGER, INTERVAL, TEXT);
DROP FUNCTION IF EXISTS delete_build(TEXT, TEXT);
DROP FUNCTION IF EXISTS test_package(TEXT);
DROP FUNCTION IF EXISTS package_marked_deleted(TEXT);
DROP FUNCTION IF EXISTS test_package_version(TEXT, TEXT);
DROP FUNCTION IF EXISTS get_versions_deleted(TEXT);
DROP FUNCTION IF EXISTS get_build_queue(INTEGER);
DROP FUNCTION IF EXISTS get_initial_statistics();
DROP FUNCTION IF EXISTS get_statistics();
DROP FUNCTION IF EXISTS get_builds_last_hour();
DROP FUNCTION IF EXISTS get_search_index();
DROP FUNCTION IF EXISTS get_package_files(TEXT);
DROP FUNCTION IF EXISTS get_version_files(TEXT, TEXT);
DROP FUNCTION IF EXISTS save_rewrites_pending(rewrites_pending[]);
DROP FUNCTION IF EXISTS load_rewrites_pending();

CREATE TABLE schema_migrations (
    version    INTEGER NOT NULL,
    name       VARCHAR(200) NOT NULL,
    applied_at TIMESTAMP NOT NULL,

    CONSTRAINT schema_migrations_pk PRIMARY KEY (version)
);
