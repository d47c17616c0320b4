-- The tables of a piwheels 0.23 database, with the same names, columns, keys,
-- checks and indexes, so that a piwheels database can be adopted as if it had
-- been created by this migration. piwheels' views and stored functions are
-- not part of it: the logic lives in the application.

CREATE TABLE configuration (
    id INTEGER DEFAULT 1 NOT NULL,
    version VARCHAR(16) DEFAULT '0.6' NOT NULL,
    pypi_serial BIGINT DEFAULT 0 NOT NULL,

    CONSTRAINT config_pk PRIMARY KEY (id)
);

INSERT INTO configuration(id, version) VALUES (1, 'ts-1');

-- Which of sql/<dialect>/NNNN_*.sql have been applied (not in piwheels: an
-- adopted piwheels database gets it on adoption).
CREATE TABLE schema_migrations (
    version    INTEGER NOT NULL,
    name       VARCHAR(200) NOT NULL,
    applied_at TIMESTAMP NOT NULL,

    CONSTRAINT schema_migrations_pk PRIMARY KEY (version)
);

CREATE TABLE packages (
    package VARCHAR(200) NOT NULL,
    skip    VARCHAR(100) DEFAULT '' NOT NULL,
    description VARCHAR(200) DEFAULT '' NOT NULL,

    CONSTRAINT packages_pk PRIMARY KEY (package)
);

CREATE TABLE package_names (
    package VARCHAR(200) NOT NULL,
    name    VARCHAR(200) NOT NULL,
    seen    TIMESTAMP DEFAULT '1970-01-01 00:00:00' NOT NULL,

    CONSTRAINT package_names_pk PRIMARY KEY (name),
    CONSTRAINT package_names_package_fk FOREIGN KEY (package)
        REFERENCES packages ON DELETE CASCADE
);

CREATE INDEX package_names_package ON package_names(package, seen DESC);

CREATE TABLE versions (
    package  VARCHAR(200) NOT NULL,
    version  VARCHAR(200) NOT NULL,
    released TIMESTAMP DEFAULT '1970-01-01 00:00:00' NOT NULL,
    skip     VARCHAR(100) DEFAULT '' NOT NULL,
    yanked   BOOLEAN DEFAULT false NOT NULL,

    CONSTRAINT versions_pk PRIMARY KEY (package, version),
    CONSTRAINT versions_package_fk FOREIGN KEY (package)
        REFERENCES packages ON DELETE CASCADE
);

CREATE INDEX versions_package ON versions(package);

CREATE TABLE build_abis (
    abi_tag         VARCHAR(100) NOT NULL,
    skip            VARCHAR(100) DEFAULT '' NOT NULL,

    CONSTRAINT build_abis_pk PRIMARY KEY (abi_tag),
    CONSTRAINT build_abis_none_ck CHECK (abi_tag <> 'none')
);

CREATE TABLE builds (
    build_id        SERIAL NOT NULL,
    package         VARCHAR(200) NOT NULL,
    version         VARCHAR(200) NOT NULL,
    built_by        INTEGER NOT NULL,
    built_at        TIMESTAMP NOT NULL DEFAULT (NOW() AT TIME ZONE 'UTC'),
    duration        INTERVAL NOT NULL,
    status          BOOLEAN DEFAULT true NOT NULL,
    abi_tag         VARCHAR(100) NOT NULL,

    CONSTRAINT builds_pk PRIMARY KEY (build_id),
    CONSTRAINT builds_unique UNIQUE (package, version, built_at, built_by),
    CONSTRAINT builds_versions_fk FOREIGN KEY (package, version)
        REFERENCES versions ON DELETE CASCADE,
    CONSTRAINT builds_built_by_ck CHECK (built_by >= 0)
);

CREATE INDEX builds_timestamp ON builds(built_at DESC NULLS LAST);
CREATE INDEX builds_pkgver ON builds(package, version);
CREATE INDEX builds_pkgverid ON builds(build_id, package, version);
CREATE INDEX builds_pkgverabi ON builds(build_id, package, version, abi_tag);

CREATE TABLE files (
    filename            VARCHAR(255) NOT NULL,
    build_id            INTEGER NOT NULL,
    filesize            INTEGER NOT NULL,
    filehash            CHAR(64) NOT NULL,
    package_tag         VARCHAR(200) NOT NULL,
    package_version_tag VARCHAR(200) NOT NULL,
    py_version_tag      VARCHAR(100) NOT NULL,
    abi_tag             VARCHAR(100) NOT NULL,
    platform_tag        VARCHAR(100) NOT NULL,
    requires_python     VARCHAR(200) NULL,
    location            VARCHAR(100) NOT NULL DEFAULT '/simple',

    CONSTRAINT files_pk PRIMARY KEY (filename),
    CONSTRAINT files_builds_fk FOREIGN KEY (build_id)
        REFERENCES builds (build_id) ON DELETE CASCADE
);

CREATE INDEX files_builds ON files(build_id);
CREATE INDEX files_size ON files(platform_tag, filesize) WHERE platform_tag <> 'linux_armv6l';
CREATE INDEX files_abi ON files(build_id, abi_tag);
CREATE INDEX files_packages ON files(package_tag);

CREATE TABLE dependencies (
    filename            VARCHAR(255) NOT NULL,
    tool                VARCHAR(10) DEFAULT 'apt' NOT NULL,
    dependency          VARCHAR(255) NOT NULL,

    CONSTRAINT dependencies_pk PRIMARY KEY (filename, tool, dependency),
    CONSTRAINT dependencies_files_fk FOREIGN KEY (filename)
        REFERENCES files(filename) ON DELETE CASCADE,
    CONSTRAINT dependencies_tool_ck CHECK (tool IN ('apt', 'pip', ''))
);

CREATE TABLE downloads (
    filename            VARCHAR(255) NOT NULL,
    accessed_by         INET NOT NULL,
    accessed_at         TIMESTAMP NOT NULL,
    arch                VARCHAR(100) DEFAULT NULL,
    distro_name         VARCHAR(100) DEFAULT NULL,
    distro_version      VARCHAR(100) DEFAULT NULL,
    os_name             VARCHAR(100) DEFAULT NULL,
    os_version          VARCHAR(100) DEFAULT NULL,
    py_name             VARCHAR(100) DEFAULT NULL,
    py_version          VARCHAR(100) DEFAULT NULL,
    installer_name      VARCHAR(20) DEFAULT NULL,
    installer_version   VARCHAR(100) DEFAULT NULL,
    setuptools_version  VARCHAR(100) DEFAULT NULL
);

CREATE INDEX downloads_files ON downloads(filename);
CREATE INDEX downloads_accessed_at ON downloads(accessed_at DESC);

CREATE TABLE searches (
    package             VARCHAR(200) NOT NULL,
    accessed_by         INET NOT NULL,
    accessed_at         TIMESTAMP NOT NULL,
    arch                VARCHAR(100) DEFAULT NULL,
    distro_name         VARCHAR(100) DEFAULT NULL,
    distro_version      VARCHAR(100) DEFAULT NULL,
    os_name             VARCHAR(100) DEFAULT NULL,
    os_version          VARCHAR(100) DEFAULT NULL,
    py_name             VARCHAR(100) DEFAULT NULL,
    py_version          VARCHAR(100) DEFAULT NULL,
    installer_name      VARCHAR(20) DEFAULT NULL,
    installer_version   VARCHAR(100) DEFAULT NULL,
    setuptools_version  VARCHAR(100) DEFAULT NULL
);

CREATE INDEX searches_package ON searches(package);
CREATE INDEX searches_accessed_at ON searches(accessed_at DESC);

CREATE TABLE project_page_hits (
    package             VARCHAR(200) NOT NULL,
    accessed_by         INET NOT NULL,
    accessed_at         TIMESTAMP NOT NULL,
    user_agent          VARCHAR(2000),
    bot                 BOOLEAN DEFAULT false NOT NULL
);

CREATE INDEX project_page_hits_package ON project_page_hits(package);
CREATE INDEX project_page_hits_accessed_at ON project_page_hits(accessed_at DESC);

CREATE TABLE project_json_downloads (
    package             VARCHAR(200) NOT NULL,
    accessed_by         INET NOT NULL,
    accessed_at         TIMESTAMP NOT NULL,
    user_agent          VARCHAR(2000)
);

CREATE INDEX project_json_downloads_package ON project_json_downloads(package);
CREATE INDEX project_json_downloads_accessed_at ON project_json_downloads(accessed_at DESC);

CREATE TABLE web_page_hits (
    page                VARCHAR(30) NOT NULL,
    accessed_by         INET NOT NULL,
    accessed_at         TIMESTAMP NOT NULL,
    user_agent          VARCHAR(2000),
    bot                 BOOLEAN DEFAULT false NOT NULL
);

CREATE INDEX web_page_hits_package ON web_page_hits(page);
CREATE INDEX web_page_hits_accessed_at ON web_page_hits(accessed_at DESC);

CREATE TABLE rewrites_pending (
    package        VARCHAR(200) NOT NULL,
    added_at       TIMESTAMP NOT NULL,
    command        VARCHAR(8) NOT NULL,

    CONSTRAINT rewrites_pending_pk PRIMARY KEY (package),
    CONSTRAINT rewrites_pending_command_ck CHECK
        (command IN ('PROJECT', 'BOTH'))
);

CREATE INDEX rewrites_pending_added ON rewrites_pending(added_at);

CREATE TABLE preinstalled_apt_packages (
    abi_tag        VARCHAR(100) NOT NULL,
    apt_package    VARCHAR(255) NOT NULL,

    CONSTRAINT preinstalled_apt_packages_pk PRIMARY KEY (abi_tag, apt_package),
    CONSTRAINT preinstalled_apt_packages_abi_tag_fk FOREIGN KEY (abi_tag)
        REFERENCES build_abis (abi_tag) ON DELETE CASCADE
);

CREATE INDEX preinstalled_apt_packages_abi_tag ON preinstalled_apt_packages(abi_tag);
