-- Build targets: the farm builds for (ABI, platform) pairs, every active ABI
-- on every active platform. Without any platform (a new farm that names
-- none, or an adopted piwheels database) there is one target per ABI that
-- takes any platform, as piwheels always had.
CREATE TABLE build_platforms (
    platform_tag    VARCHAR(100) NOT NULL,
    skip            VARCHAR(100) DEFAULT '' NOT NULL,

    CONSTRAINT build_platforms_pk PRIMARY KEY (platform_tag),
    CONSTRAINT build_platforms_tag_ck CHECK (platform_tag NOT IN ('', 'any'))
);

-- The native platform of the machine that made a build, beside its ABI; ''
-- for builds from before platforms were recorded (a failure of unknown
-- platform is not retried on any platform of its ABI).
ALTER TABLE builds ADD COLUMN platform_tag VARCHAR(100) DEFAULT '' NOT NULL;

-- Project pages read the builder's platform with the rest of a build.
DROP INDEX builds_page;
CREATE INDEX builds_page ON builds(package, version, build_id, abi_tag, platform_tag, status, built_at);

-- The build queue per target: for each version and platform ('' on a farm
-- without platforms) that still wants a build, the one ABI to try next. A
-- derived table: recomputed from the rows once the migration is applied.
DROP TABLE build_queue;

CREATE TABLE build_queue (
    package      VARCHAR(200) NOT NULL,
    version      VARCHAR(200) NOT NULL,
    platform_tag VARCHAR(100) NOT NULL,
    abi_tag      VARCHAR(100) NOT NULL,
    released     TEXT NOT NULL,

    CONSTRAINT build_queue_pk PRIMARY KEY (package, version, platform_tag)
);

CREATE INDEX build_queue_order ON build_queue(abi_tag, platform_tag, released, package, version);
