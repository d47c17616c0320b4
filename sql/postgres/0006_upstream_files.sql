-- What upstream (PyPI) serves for each release, so that the farm never
-- publishes a file under a name upstream serves with other bytes (pip merges
-- indexes and refuses the install when the hashes disagree), and need not
-- build what an upstream wheel already installs on.

-- A release whose files upstream's JSON API has answered for, and when: a
-- release without a row has never been asked about.
CREATE TABLE upstream_releases (
    package    VARCHAR(200) NOT NULL,
    version    VARCHAR(200) NOT NULL,
    checked_at TIMESTAMP NOT NULL,

    CONSTRAINT upstream_releases_pk PRIMARY KEY (package, version),
    CONSTRAINT upstream_releases_versions_fk FOREIGN KEY (package, version)
        REFERENCES versions ON DELETE CASCADE
);

-- Upstream's wheels of a release as it last answered (sdists cannot clash
-- with a wheel, nor install on a target). A file name is upstream's for good.
CREATE TABLE upstream_files (
    package         VARCHAR(200) NOT NULL,
    version         VARCHAR(200) NOT NULL,
    filename        VARCHAR(255) NOT NULL,
    filehash        CHAR(64) NOT NULL,
    requires_python VARCHAR(200) NULL,
    uploaded_at     TIMESTAMP NOT NULL,

    CONSTRAINT upstream_files_pk PRIMARY KEY (package, filename),
    CONSTRAINT upstream_files_releases_fk FOREIGN KEY (package, version)
        REFERENCES upstream_releases ON DELETE CASCADE
);

CREATE INDEX upstream_files_release ON upstream_files(package, version);

-- A file a build produced that was not published: upstream serves a file of
-- that name with other bytes.
CREATE TABLE upstream_clashes (
    build_id          INTEGER NOT NULL,
    filename          VARCHAR(255) NOT NULL,
    filehash          CHAR(64) NOT NULL,
    upstream_filehash CHAR(64) NOT NULL,

    CONSTRAINT upstream_clashes_pk PRIMARY KEY (build_id, filename),
    CONSTRAINT upstream_clashes_builds_fk FOREIGN KEY (build_id)
        REFERENCES builds (build_id) ON DELETE CASCADE
);

-- A release not built for a target (ABI and platform) because an upstream
-- wheel of it already installs there.
CREATE TABLE upstream_served (
    package      VARCHAR(200) NOT NULL,
    version      VARCHAR(200) NOT NULL,
    abi_tag      VARCHAR(100) NOT NULL,
    platform_tag VARCHAR(100) NOT NULL,
    filename     VARCHAR(255) NOT NULL,

    CONSTRAINT upstream_served_pk PRIMARY KEY (package, version, abi_tag, platform_tag),
    CONSTRAINT upstream_served_versions_fk FOREIGN KEY (package, version)
        REFERENCES versions ON DELETE CASCADE
);
