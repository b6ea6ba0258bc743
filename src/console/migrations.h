/* migrations.h — the alert store's schema versions, db/migrations/NNN_name.sql
 * built into the binary at build time (cmake/embed_migrations.cmake), in
 * version order. The store applies those a database has not seen yet. */
#ifndef FW_MIGRATIONS_H
#define FW_MIGRATIONS_H

#include <stddef.h>

typedef struct fw_migration {
    int version;       /* NNN of the file name */
    const char *name;  /* "001_alerts.sql" */
    const char *sql;   /* the file's text */
} fw_migration;

extern const fw_migration fw_migrations[];
extern const size_t fw_nmigrations;

#endif
