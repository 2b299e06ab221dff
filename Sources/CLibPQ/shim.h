#ifndef MUSTER_CLIBPQ_SHIM_H
#define MUSTER_CLIBPQ_SHIM_H
#include </usr/include/postgresql/libpq-fe.h>
#endif
