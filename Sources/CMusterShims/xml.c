// JUnit XML through libxml2's reader API, loaded the first time a report needs it.
//
// Linked (as FoundationXML links it), libxml2 brings ICU with it into every muster
// process at start-up: about 8 ms of loading per start here, for a file format read
// only by `muster run --tests` and only when a JUnit report is named. The reader's
// functions and constants used here are libxml2's stable ABI (libxml/xmlreader.h).
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "muster_shims.h"

enum {
    NODE_ELEMENT = 1,
    NODE_END_ELEMENT = 15,
    PARSE_NONET = 1 << 11,
    PARSE_NOERROR = 1 << 5,
    PARSE_NOWARNING = 1 << 6,
    PARSE_HUGE = 1 << 19,
};

// The leading fields of libxml2's xmlError (libxml/xmlerror.h), unchanged since 2.x.
typedef struct {
    int domain;
    int code;
    char *message;
    int level;
    char *file;
    int line;
    char *str1, *str2, *str3;
    int int1;
    int int2;
} xml_error;

static struct {
    void *(*for_memory)(const char *, int, const char *, const char *, int);
    int (*read)(void *);
    int (*node_type)(void *);
    int (*is_empty)(void *);
    const unsigned char *(*local_name)(void *);
    int (*next_attribute)(void *);
    int (*move_to_element)(void *);
    const unsigned char *(*value)(void *);
    int (*line)(void *);
    void (*free_reader)(void *);
    const xml_error *(*last_error)(void);
    void (*reset_last_error)(void);
} xml;

static pthread_once_t xml_once = PTHREAD_ONCE_INIT;
static int xml_loaded;

static void xml_load(void) {
    void *handle = dlopen("libxml2.so.2", RTLD_NOW | RTLD_LOCAL);
    if (handle == NULL) return;
    xml.for_memory = dlsym(handle, "xmlReaderForMemory");
    xml.read = dlsym(handle, "xmlTextReaderRead");
    xml.node_type = dlsym(handle, "xmlTextReaderNodeType");
    xml.is_empty = dlsym(handle, "xmlTextReaderIsEmptyElement");
    xml.local_name = dlsym(handle, "xmlTextReaderConstLocalName");
    xml.next_attribute = dlsym(handle, "xmlTextReaderMoveToNextAttribute");
    xml.move_to_element = dlsym(handle, "xmlTextReaderMoveToElement");
    xml.value = dlsym(handle, "xmlTextReaderConstValue");
    xml.line = dlsym(handle, "xmlTextReaderGetParserLineNumber");
    xml.free_reader = dlsym(handle, "xmlFreeTextReader");
    xml.last_error = dlsym(handle, "xmlGetLastError");
    xml.reset_last_error = dlsym(handle, "xmlResetLastError");
    xml_loaded = xml.for_memory && xml.read && xml.node_type && xml.is_empty && xml.local_name && xml.next_attribute
        && xml.move_to_element && xml.value && xml.line && xml.free_reader && xml.last_error && xml.reset_last_error;
}

enum { MAX_ATTRIBUTES = 32 };

int muster_xml_walk(const char *data, size_t length, muster_xml_callback callback, void *context,
                    char *problem, size_t problem_capacity, int *problem_line, int *problem_column) {
    pthread_once(&xml_once, xml_load);
    *problem_line = 0;
    *problem_column = 0;
    if (!xml_loaded) {
        snprintf(problem, problem_capacity, "libxml2 (libxml2.so.2) could not be loaded; install it: apt-get install libxml2");
        return -1;
    }
    xml.reset_last_error();
    void *reader = xml.for_memory(data, (int)length, "report.xml", NULL, PARSE_NONET | PARSE_NOERROR | PARSE_NOWARNING | PARSE_HUGE);
    if (reader == NULL) {
        snprintf(problem, problem_capacity, "the document is empty");
        return 1;
    }
    int status = 0, result;
    const char *names[MAX_ATTRIBUTES], *values[MAX_ATTRIBUTES];
    while ((result = xml.read(reader)) == 1) {
        int type = xml.node_type(reader);
        if (type != NODE_ELEMENT && type != NODE_END_ELEMENT) continue;
        const char *name = (const char *)xml.local_name(reader);
        int line = xml.line(reader);
        if (type == NODE_END_ELEMENT) {
            if (callback(context, 2, name, NULL, NULL, 0, line) != 0) { status = 2; break; }
            continue;
        }
        int empty = xml.is_empty(reader);
        // The name stays valid while the reader sits on the element's attributes.
        char element[256];
        snprintf(element, sizeof element, "%s", name ? name : "");
        int count = 0;
        char storage[MAX_ATTRIBUTES][2][512];
        while (count < MAX_ATTRIBUTES && xml.next_attribute(reader) == 1) {
            snprintf(storage[count][0], sizeof storage[count][0], "%s", (const char *)xml.local_name(reader));
            const char *value = (const char *)xml.value(reader);
            snprintf(storage[count][1], sizeof storage[count][1], "%s", value ? value : "");
            names[count] = storage[count][0];
            values[count] = storage[count][1];
            count++;
        }
        xml.move_to_element(reader);
        if (callback(context, 1, element, names, values, count, line) != 0) { status = 2; break; }
        if (empty && callback(context, 2, element, NULL, NULL, 0, line) != 0) { status = 2; break; }
    }
    if (status == 0 && result < 0) {
        const xml_error *error = xml.last_error();
        snprintf(problem, problem_capacity, "%s", error && error->message ? error->message : "malformed XML");
        size_t end = strlen(problem);
        while (end > 0 && (problem[end - 1] == '\n' || problem[end - 1] == ' ')) problem[--end] = 0;
        *problem_line = error ? error->line : 0;
        *problem_column = error ? error->int2 : 0;
        status = 1;
    }
    xml.free_reader(reader);
    return status;
}
