-- Failure triage: why each failed build failed, which native dependency it
-- lacked (and the Debian package that provides it, once looked up), and when
-- a transient failure is tried again; what each build ran on; and the
-- earlier attempts of builds that were tried again. A retried build's row
-- moves to build_attempts and is deleted from builds, so that the version
-- goes back in the build queue by the queue's usual rule; its log stays
-- under the old build id, which the attempt keeps.
CREATE TABLE build_failures (
    build_id        INTEGER NOT NULL,
    kind            VARCHAR(20) NOT NULL,
    attempt         INTEGER NOT NULL,
    retry_at        TIMESTAMP NULL,
    missing_kind    VARCHAR(20) NULL,
    missing_name    VARCHAR(200) NULL,
    debian_package  VARCHAR(200) NULL,

    CONSTRAINT build_failures_pk PRIMARY KEY (build_id),
    CONSTRAINT build_failures_builds_fk FOREIGN KEY (build_id)
        REFERENCES builds (build_id) ON DELETE CASCADE,
    CONSTRAINT build_failures_kind_ck CHECK (kind IN ('package', 'upstream', 'disk', 'killed', 'timeout', 'slave-lost')),
    CONSTRAINT build_failures_missing_ck CHECK (missing_kind IN ('header', 'library', 'pkg-config')),
    CONSTRAINT build_failures_attempt_ck CHECK (attempt >= 1)
);
-- the retry task looks only at failures with a retry time
CREATE INDEX build_failures_retry ON build_failures(retry_at) WHERE retry_at IS NOT NULL;

CREATE TABLE build_environments (
    build_id        INTEGER NOT NULL,
    os              VARCHAR(200) NOT NULL,
    python          VARCHAR(50) NOT NULL,
    pip             VARCHAR(50) NULL,
    setuptools      VARCHAR(50) NULL,
    wheel           VARCHAR(50) NULL,
    dpkg_digest     VARCHAR(71) NULL,
    reproduce       VARCHAR(2000) NOT NULL,

    CONSTRAINT build_environments_pk PRIMARY KEY (build_id),
    CONSTRAINT build_environments_builds_fk FOREIGN KEY (build_id)
        REFERENCES builds (build_id) ON DELETE CASCADE
);

CREATE TABLE build_attempts (
    attempt_id      SERIAL NOT NULL,
    package         VARCHAR(200) NOT NULL,
    version         VARCHAR(200) NOT NULL,
    abi_tag         VARCHAR(100) NOT NULL,
    attempt         INTEGER NOT NULL,
    kind            VARCHAR(20) NOT NULL,
    built_by        INTEGER NOT NULL,
    built_at        TIMESTAMP NOT NULL,
    log_build_id    INTEGER NULL,

    CONSTRAINT build_attempts_pk PRIMARY KEY (attempt_id),
    CONSTRAINT build_attempts_versions_fk FOREIGN KEY (package, version)
        REFERENCES versions ON DELETE CASCADE,
    CONSTRAINT build_attempts_kind_ck CHECK (kind IN ('package', 'upstream', 'disk', 'killed', 'timeout', 'slave-lost'))
);
CREATE INDEX build_attempts_pkgverabi ON build_attempts(package, version, abi_tag);
