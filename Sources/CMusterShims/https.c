// https probes through libcurl, loaded the first time one runs.
//
// Plain http probes speak HTTP/1.1 on a socket; only https needs TLS. Linking
// libcurl (as FoundationNetworking does) loads some thirty shared libraries into
// every muster process at start-up; most stacks never probe https.
// The option numbers are libcurl's stable ABI (curl/curl.h).
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "muster_shims.h"

enum {
    OPT_WRITEDATA = 10001,
    OPT_URL = 10002,
    OPT_USERAGENT = 10018,
    OPT_WRITEFUNCTION = 20011,
    OPT_NOSIGNAL = 99,
    OPT_TIMEOUT_MS = 155,
    INFO_RESPONSE_CODE = 0x200002,
};

static struct {
    void *(*init)(void);
    int (*setopt)(void *, int, ...);
    int (*perform)(void *);
    int (*getinfo)(void *, int, ...);
    void (*cleanup)(void *);
    const char *(*strerror)(int);
    int (*global_init)(long);
} curl;

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static char curl_problem[512];

static void curl_load(void) {
    void *handle = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
    if (handle == NULL) handle = dlopen("libcurl-gnutls.so.4", RTLD_NOW | RTLD_LOCAL);
    if (handle == NULL) {
        const char *why = dlerror();
        snprintf(curl_problem, sizeof curl_problem, "https probes need libcurl (%s); install libcurl4", why ? why : "not found");
        return;
    }
    *(void **)(&curl.init) = dlsym(handle, "curl_easy_init");
    *(void **)(&curl.setopt) = dlsym(handle, "curl_easy_setopt");
    *(void **)(&curl.perform) = dlsym(handle, "curl_easy_perform");
    *(void **)(&curl.getinfo) = dlsym(handle, "curl_easy_getinfo");
    *(void **)(&curl.cleanup) = dlsym(handle, "curl_easy_cleanup");
    *(void **)(&curl.strerror) = dlsym(handle, "curl_easy_strerror");
    *(void **)(&curl.global_init) = dlsym(handle, "curl_global_init");
    if (!curl.init || !curl.setopt || !curl.perform || !curl.getinfo || !curl.cleanup || !curl.strerror || !curl.global_init) {
        snprintf(curl_problem, sizeof curl_problem, "libcurl lacks the easy interface");
        return;
    }
    curl.global_init(3 /* CURL_GLOBAL_ALL */);
}

struct body {
    char *buffer;
    size_t capacity;
    size_t length;
};

static size_t keep_body(char *data, size_t size, size_t count, void *context) {
    struct body *body = context;
    size_t bytes = size * count;
    size_t room = body->capacity > body->length ? body->capacity - body->length : 0;
    size_t copied = bytes < room ? bytes : room;
    if (copied > 0) memcpy(body->buffer + body->length, data, copied);
    body->length += copied;
    return bytes;  // the rest is read and dropped
}

int muster_https_get(const char *url, long timeout_ms, long *status, char *body_buffer, size_t body_capacity,
                     size_t *body_length, char *error, size_t error_capacity) {
    pthread_once(&curl_once, curl_load);
    *status = 0;
    *body_length = 0;
    if (curl_problem[0]) {
        snprintf(error, error_capacity, "%s", curl_problem);
        return -1;
    }
    void *easy = curl.init();
    if (easy == NULL) {
        snprintf(error, error_capacity, "libcurl could not start a request");
        return -1;
    }
    struct body body = {body_buffer, body_capacity, 0};
    curl.setopt(easy, OPT_URL, url);
    curl.setopt(easy, OPT_NOSIGNAL, 1L);
    curl.setopt(easy, OPT_TIMEOUT_MS, timeout_ms);
    curl.setopt(easy, OPT_USERAGENT, "muster-probe");
    curl.setopt(easy, OPT_WRITEFUNCTION, keep_body);
    curl.setopt(easy, OPT_WRITEDATA, &body);
    int code = curl.perform(easy);
    if (code != 0) {
        snprintf(error, error_capacity, "%s", curl.strerror(code));
        curl.cleanup(easy);
        return -1;
    }
    curl.getinfo(easy, INFO_RESPONSE_CODE, status);
    *body_length = body.length;
    curl.cleanup(easy);
    return 0;
}
