// libpq, loaded the first time a Postgres check or provisioning step needs it.
//
// Linking libpq pulls libssl, libcrypto, Kerberos and LDAP into every muster
// process at start-up (about 3.5 ms of dynamic loading and relocation each time,
// and their pages in RSS), though most commands never talk to Postgres.
// The enum values used by callers are libpq's stable ABI (libpq-fe.h).
#include <dlfcn.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "muster_shims.h"

static struct {
    void *(*connectdb)(const char *);
    int (*status)(const void *);
    char *(*error_message)(const void *);
    void (*finish)(void *);
    void *(*exec)(void *, const char *);
    int (*result_status)(const void *);
    char *(*result_error_message)(const void *);
    void (*clear)(void *);
    int (*ntuples)(const void *);
    int (*nfields)(const void *);
    char *(*getvalue)(const void *, int, int);
    int (*getisnull)(const void *, int, int);
    char *(*escape_identifier)(void *, const char *, size_t);
    char *(*escape_literal)(void *, const char *, size_t);
    void (*freemem)(void *);
} pq;

static pthread_once_t pq_once = PTHREAD_ONCE_INIT;
static char pq_problem[512];

#define PQ_BIND(field, name)                                                                     \
    do {                                                                                         \
        *(void **)(&pq.field) = dlsym(handle, name);                                             \
        if (pq.field == NULL) {                                                                  \
            snprintf(pq_problem, sizeof pq_problem, "libpq has no %s (too old a libpq5?)", name); \
            return;                                                                              \
        }                                                                                        \
    } while (0)

static void pq_load(void) {
    void *handle = dlopen("libpq.so.5", RTLD_NOW | RTLD_LOCAL);
    if (handle == NULL) handle = dlopen("libpq.so", RTLD_NOW | RTLD_LOCAL);
    if (handle == NULL) {
        const char *why = dlerror();
        snprintf(pq_problem, sizeof pq_problem, "cannot load libpq.so.5 (%s); install libpq5", why ? why : "not found");
        return;
    }
    PQ_BIND(connectdb, "PQconnectdb");
    PQ_BIND(status, "PQstatus");
    PQ_BIND(error_message, "PQerrorMessage");
    PQ_BIND(finish, "PQfinish");
    PQ_BIND(exec, "PQexec");
    PQ_BIND(result_status, "PQresultStatus");
    PQ_BIND(result_error_message, "PQresultErrorMessage");
    PQ_BIND(clear, "PQclear");
    PQ_BIND(ntuples, "PQntuples");
    PQ_BIND(nfields, "PQnfields");
    PQ_BIND(getvalue, "PQgetvalue");
    PQ_BIND(getisnull, "PQgetisnull");
    PQ_BIND(escape_identifier, "PQescapeIdentifier");
    PQ_BIND(escape_literal, "PQescapeLiteral");
    PQ_BIND(freemem, "PQfreemem");
}

const char *muster_pq_problem(void) {
    pthread_once(&pq_once, pq_load);
    return pq_problem[0] ? pq_problem : NULL;
}

void *muster_pq_connect(const char *conninfo) { return pq.connectdb(conninfo); }
int muster_pq_connected(const void *conn) { return pq.status(conn) == 0; /* CONNECTION_OK */ }
const char *muster_pq_error(const void *conn) { return pq.error_message(conn); }
void muster_pq_finish(void *conn) { pq.finish(conn); }
void *muster_pq_exec(void *conn, const char *sql) { return pq.exec(conn, sql); }
int muster_pq_result_ok(const void *result) {
    int status = pq.result_status(result);
    return status == 1 /* PGRES_COMMAND_OK */ || status == 2 /* PGRES_TUPLES_OK */;
}
const char *muster_pq_result_error(const void *result) { return pq.result_error_message(result); }
void muster_pq_clear(void *result) { pq.clear(result); }
int muster_pq_rows(const void *result) { return pq.ntuples(result); }
int muster_pq_columns(const void *result) { return pq.nfields(result); }
const char *muster_pq_value(const void *result, int row, int column) {
    return pq.getisnull(result, row, column) ? NULL : pq.getvalue(result, row, column);
}
char *muster_pq_escape_identifier(void *conn, const char *text, size_t length) {
    return pq.escape_identifier(conn, text, length);
}
char *muster_pq_escape_literal(void *conn, const char *text, size_t length) {
    return pq.escape_literal(conn, text, length);
}
void muster_pq_free(void *memory) { pq.freemem(memory); }
