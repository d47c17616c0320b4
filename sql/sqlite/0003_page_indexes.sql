-- Project pages: covering indexes, so that a package's versions, builds and
-- files are read from a few adjacent index pages instead of one table page per
-- row (the rows of a big package are spread over the whole table).
CREATE INDEX versions_page ON versions(package, version, released, skip, yanked);
CREATE INDEX builds_page ON builds(package, version, build_id, abi_tag, status, built_at);
DROP INDEX builds_pkgver;
CREATE INDEX files_page ON files(build_id, filename, filesize, filehash, abi_tag, platform_tag, requires_python, metadata_hash);
DROP INDEX files_builds;

-- Search index: per-package download totals, all time and since the first
-- day of the recent window. A derived table like those of migration 2: kept
-- in step with download_counts in the same transaction, and recomputable.
-- The window (one row) is moved on by whoever reads the recent totals, by
-- adding or taking away the days between its old and new first day.
CREATE TABLE package_downloads (
    package          VARCHAR(200) NOT NULL,
    downloads_all    BIGINT NOT NULL,
    downloads_recent BIGINT NOT NULL,

    CONSTRAINT package_downloads_pk PRIMARY KEY (package)
);

CREATE TABLE download_window (
    id        INTEGER NOT NULL,
    first_day TEXT NOT NULL,

    CONSTRAINT download_window_pk PRIMARY KEY (id),
    CONSTRAINT download_window_one_ck CHECK (id = 1)
);

INSERT INTO download_window (id, first_day) VALUES (1, '1970-01-01');
