-- PEP 658: the SHA-256 of a wheel's METADATA, served beside the wheel.
ALTER TABLE files ADD COLUMN metadata_hash CHAR(64) NULL;

-- Derived tables: each is a summary of other tables, kept in step with them by
-- the application in the same transaction as the rows it summarises, so that
-- the build queue, statistics and download counts never need a scan of the
-- big tables. Every one can be recomputed from scratch and compared (the
-- --check option of piw-initdb).

-- For each version that still wants a build, the one ABI to try it on next.
-- No foreign key: the application removes rows (and adjusts the pending
-- counters) itself when a version goes.
CREATE TABLE build_queue (
    package  VARCHAR(200) NOT NULL,
    version  VARCHAR(200) NOT NULL,
    abi_tag  VARCHAR(100) NOT NULL,
    released TEXT NOT NULL,

    CONSTRAINT build_queue_pk PRIMARY KEY (package, version)
);

CREATE INDEX build_queue_order ON build_queue(abi_tag, released, package, version);

-- Named totals: files_count, builds_size (bytes, linux_armv6l twins
-- excluded), builds_time_us (microseconds, builds of a week or more
-- excluded), packages_built, and pending:<abi> (rows of build_queue per ABI).
CREATE TABLE farm_counters (
    name  VARCHAR(120) NOT NULL,
    value BIGINT DEFAULT 0 NOT NULL,

    CONSTRAINT farm_counters_pk PRIMARY KEY (name)
);

-- Number of files per wheel package tag (packages_built counts the tags).
CREATE TABLE package_tag_files (
    package_tag VARCHAR(200) NOT NULL,
    files       BIGINT NOT NULL,

    CONSTRAINT package_tag_files_pk PRIMARY KEY (package_tag)
);

-- Downloads of a package's files per UTC day (downloads of files the farm
-- does not hold count in downloads_daily only).
CREATE TABLE download_counts (
    package   VARCHAR(200) NOT NULL,
    day       TEXT NOT NULL,
    downloads BIGINT NOT NULL,

    CONSTRAINT download_counts_pk PRIMARY KEY (package, day)
);

CREATE INDEX download_counts_day ON download_counts(day, package);

-- All downloads per UTC day.
CREATE TABLE downloads_daily (
    day       TEXT NOT NULL,
    downloads BIGINT NOT NULL,

    CONSTRAINT downloads_daily_pk PRIMARY KEY (day)
);

-- New releases in the last hour (statistics).
CREATE INDEX versions_released ON versions(released);
