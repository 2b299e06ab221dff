// TLS as a byte transport for muster's one HTTP client, through the system's OpenSSL
// (libssl.so.3), loaded the first time an https probe runs.
//
// Only the handshake, record encryption and certificate checks live here: the HTTP
// request and response framing are muster's own (HTTPClient.swift), the same for
// http, https and the control socket. Linking libssl would load it (and libcrypto)
// into every muster process at start-up; most stacks never probe https. The socket
// stays non-blocking: each call does what it can and says whether it waits to read
// or to write, and the Swift side polls against its own deadline.
// The declarations below are OpenSSL 3's stable ABI (openssl/ssl.h, x509_vfy.h).
#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "muster_shims.h"

enum {
    SSL_ERROR_SSL_ = 1,
    SSL_ERROR_WANT_READ_ = 2,
    SSL_ERROR_WANT_WRITE_ = 3,
    SSL_ERROR_SYSCALL_ = 5,
    SSL_ERROR_ZERO_RETURN_ = 6,
    SSL_VERIFY_PEER_ = 1,
    SSL_CTRL_SET_TLSEXT_HOSTNAME_ = 55,
    TLSEXT_NAMETYPE_HOST_NAME_ = 0,
    X509_V_OK_ = 0,
};
/// SSL_OP_IGNORE_UNEXPECTED_EOF: a peer that closes without close_notify ends the stream
/// (HTTP/1.0 servers ending a body at the close do); a body cut short by it is still
/// caught by its Content-Length or chunked framing.
static const uint64_t ignore_unexpected_eof = 1ull << 7;

static struct {
    const void *(*client_method)(void);
    void *(*ctx_new)(const void *);
    void (*ctx_free)(void *);
    int (*ctx_default_paths)(void *);
    int (*ctx_load_locations)(void *, const char *, const char *);
    void (*ctx_set_verify)(void *, int, void *);
    uint64_t (*ctx_set_options)(void *, uint64_t);
    void *(*ssl_new)(void *);
    void (*ssl_free)(void *);
    int (*set_fd)(void *, int);
    long (*ctrl)(void *, int, long, void *);
    int (*set1_host)(void *, const char *);
    void *(*get0_param)(void *);
    int (*param_set1_ip_asc)(void *, const char *);
    int (*connect)(void *);
    int (*read)(void *, void *, int);
    int (*write)(void *, const void *, int);
    int (*shutdown)(void *);
    int (*get_error)(const void *, int);
    long (*verify_result)(const void *);
    const char *(*verify_string)(long);
    unsigned long (*err_get)(void);
    void (*err_string)(unsigned long, char *, size_t);
    void (*err_clear)(void);
} ssl;

static pthread_once_t ssl_once = PTHREAD_ONCE_INIT;
static char ssl_problem[256];
/// The context with the system's trusted certificates, made once: loading the CA
/// bundle costs milliseconds, and a context is safe to share between threads.
static void *system_context;

static void ssl_load(void) {
    void *handle = dlopen("libssl.so.3", RTLD_NOW | RTLD_LOCAL);
    if (handle == NULL) {
        const char *why = dlerror();
        snprintf(ssl_problem, sizeof ssl_problem, "https needs OpenSSL 3 (%s); install libssl3", why ? why : "not found");
        return;
    }
    // dlsym on libssl's handle also finds libcrypto's symbols (it is a dependency).
    *(void **)(&ssl.client_method) = dlsym(handle, "TLS_client_method");
    *(void **)(&ssl.ctx_new) = dlsym(handle, "SSL_CTX_new");
    *(void **)(&ssl.ctx_free) = dlsym(handle, "SSL_CTX_free");
    *(void **)(&ssl.ctx_default_paths) = dlsym(handle, "SSL_CTX_set_default_verify_paths");
    *(void **)(&ssl.ctx_load_locations) = dlsym(handle, "SSL_CTX_load_verify_locations");
    *(void **)(&ssl.ctx_set_verify) = dlsym(handle, "SSL_CTX_set_verify");
    *(void **)(&ssl.ctx_set_options) = dlsym(handle, "SSL_CTX_set_options");
    *(void **)(&ssl.ssl_new) = dlsym(handle, "SSL_new");
    *(void **)(&ssl.ssl_free) = dlsym(handle, "SSL_free");
    *(void **)(&ssl.set_fd) = dlsym(handle, "SSL_set_fd");
    *(void **)(&ssl.ctrl) = dlsym(handle, "SSL_ctrl");
    *(void **)(&ssl.set1_host) = dlsym(handle, "SSL_set1_host");
    *(void **)(&ssl.get0_param) = dlsym(handle, "SSL_get0_param");
    *(void **)(&ssl.param_set1_ip_asc) = dlsym(handle, "X509_VERIFY_PARAM_set1_ip_asc");
    *(void **)(&ssl.connect) = dlsym(handle, "SSL_connect");
    *(void **)(&ssl.read) = dlsym(handle, "SSL_read");
    *(void **)(&ssl.write) = dlsym(handle, "SSL_write");
    *(void **)(&ssl.shutdown) = dlsym(handle, "SSL_shutdown");
    *(void **)(&ssl.get_error) = dlsym(handle, "SSL_get_error");
    *(void **)(&ssl.verify_result) = dlsym(handle, "SSL_get_verify_result");
    *(void **)(&ssl.verify_string) = dlsym(handle, "X509_verify_cert_error_string");
    *(void **)(&ssl.err_get) = dlsym(handle, "ERR_get_error");
    *(void **)(&ssl.err_string) = dlsym(handle, "ERR_error_string_n");
    *(void **)(&ssl.err_clear) = dlsym(handle, "ERR_clear_error");
    void **all = (void **)&ssl;
    for (size_t i = 0; i < sizeof ssl / sizeof(void *); i++) {
        if (all[i] == NULL) {
            snprintf(ssl_problem, sizeof ssl_problem, "libssl.so.3 lacks an OpenSSL 3 function muster needs");
            return;
        }
    }
}

static void *make_context(const char *ca_file, char *error, size_t capacity) {
    void *context = ssl.ctx_new(ssl.client_method());
    if (context == NULL) {
        snprintf(error, capacity, "OpenSSL could not make a TLS context");
        return NULL;
    }
    int loaded = ca_file ? ssl.ctx_load_locations(context, ca_file, NULL) : ssl.ctx_default_paths(context);
    if (loaded != 1) {
        snprintf(error, capacity, "OpenSSL could not load trusted certificates%s%s", ca_file ? " from " : "", ca_file ? ca_file : "");
        ssl.ctx_free(context);
        return NULL;
    }
    ssl.ctx_set_verify(context, SSL_VERIFY_PEER_, NULL);
    ssl.ctx_set_options(context, ignore_unexpected_eof);
    return context;
}

struct muster_tls {
    void *ssl;
    void *own_context;  // set when the session trusts a file of its own (tests)
};

void *muster_tls_open(int fd, const char *host, int host_is_ip, const char *ca_file, char *error, size_t capacity) {
    pthread_once(&ssl_once, ssl_load);
    if (ssl_problem[0]) {
        snprintf(error, capacity, "%s", ssl_problem);
        return NULL;
    }
    static pthread_mutex_t context_lock = PTHREAD_MUTEX_INITIALIZER;
    void *context;
    void *own = NULL;
    if (ca_file) {
        own = context = make_context(ca_file, error, capacity);
    } else {
        pthread_mutex_lock(&context_lock);
        if (system_context == NULL) system_context = make_context(NULL, error, capacity);
        context = system_context;
        pthread_mutex_unlock(&context_lock);
    }
    if (context == NULL) return NULL;
    struct muster_tls *tls = calloc(1, sizeof *tls);
    if (tls == NULL || (tls->ssl = ssl.ssl_new(context)) == NULL) {
        snprintf(error, capacity, "OpenSSL could not start a TLS session");
        free(tls);
        if (own) ssl.ctx_free(own);
        return NULL;
    }
    tls->own_context = own;
    ssl.set_fd(tls->ssl, fd);
    // The certificate must name the host asked for: a DNS name (also sent as SNI) or an IP address.
    int named = host_is_ip ? ssl.param_set1_ip_asc(ssl.get0_param(tls->ssl), host)
                           : (ssl.ctrl(tls->ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME_, TLSEXT_NAMETYPE_HOST_NAME_, (void *)host) == 1 &&
                              ssl.set1_host(tls->ssl, host) == 1);
    if (named != 1) {
        snprintf(error, capacity, "OpenSSL refused the host name %s", host);
        muster_tls_close(tls);
        return NULL;
    }
    return tls;
}

/// What a step returned, for the Swift side: bytes or 1, 0 at the end, or a wait.
static long outcome(struct muster_tls *tls, int result, char *error, size_t capacity) {
    if (result > 0) return result;
    int code = ssl.get_error(tls->ssl, result);
    if (code == SSL_ERROR_WANT_READ_) return MUSTER_TLS_WANT_READ;
    if (code == SSL_ERROR_WANT_WRITE_) return MUSTER_TLS_WANT_WRITE;
    if (code == SSL_ERROR_ZERO_RETURN_) return 0;
    long verified = ssl.verify_result(tls->ssl);
    if (verified != X509_V_OK_) {
        snprintf(error, capacity, "certificate verify failed: %s", ssl.verify_string(verified));
    } else {
        unsigned long queued = ssl.err_get();
        if (queued != 0) {
            char text[200];
            ssl.err_string(queued, text, sizeof text);
            snprintf(error, capacity, "TLS error: %s", text);
        } else if (code == SSL_ERROR_SYSCALL_) {
            // OpenSSL 3 reports a peer that closed without close_notify here.
            snprintf(error, capacity, "the peer closed the TLS connection unexpectedly");
        } else {
            snprintf(error, capacity, "TLS error %d", code);
        }
    }
    ssl.err_clear();
    return MUSTER_TLS_FAILED;
}

long muster_tls_handshake(void *handle, char *error, size_t capacity) {
    struct muster_tls *tls = handle;
    return outcome(tls, ssl.connect(tls->ssl), error, capacity);
}

long muster_tls_read(void *handle, void *buffer, int size, char *error, size_t capacity) {
    struct muster_tls *tls = handle;
    return outcome(tls, ssl.read(tls->ssl, buffer, size), error, capacity);
}

long muster_tls_write(void *handle, const void *buffer, int size, char *error, size_t capacity) {
    struct muster_tls *tls = handle;
    return outcome(tls, ssl.write(tls->ssl, buffer, size), error, capacity);
}

void muster_tls_close(void *handle) {
    struct muster_tls *tls = handle;
    if (tls == NULL) return;
    if (tls->ssl) {
        ssl.shutdown(tls->ssl);  // one try at close_notify; the socket is non-blocking
        ssl.err_clear();
        ssl.ssl_free(tls->ssl);
    }
    if (tls->own_context) ssl.ctx_free(tls->own_context);
    free(tls);
}
