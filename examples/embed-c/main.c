/* The runtime embedded in a C program: start it with the app's own host
 * functions (one of them async, answered from another thread), load a
 * guest, spawn it with a configuration (memory limit, arguments), talk to
 * it through a native mailbox, watch a guest trap in a host function, see
 * the mailbox's byte limit at work, shut down.
 *
 *   examples/embed-c/run      (builds the library and this program) */
#define _POSIX_C_SOURCE 200809L
#include "lunatic.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CHECK(call)                                                              \
    do {                                                                         \
        int32_t code_ = (call);                                                  \
        if (code_ != LUNATIC_OK) {                                               \
            fprintf(stderr, "%s failed (%d): %s\n", #call, code_, lunatic_last_error()); \
            exit(1);                                                             \
        }                                                                        \
    } while (0)

/* app::add(a: i32, b: i32) -> i32 */
static int32_t add(void *user_data, lunatic_call *call, const int64_t *params,
                   size_t params_len, int64_t *results, size_t results_len) {
    (void)user_data;
    if (params_len != 2 || results_len != 1) return 1;
    uint64_t caller = 0;
    lunatic_call_process_id(call, &caller);
    printf("host: add(%" PRId64 ", %" PRId64 ") called by process %" PRIu64 "\n", params[0],
           params[1], caller);
    results[0] = params[0] + params[1];
    return 0;
}

/* app::print(ptr: i32, len: i32): reads the guest's memory. */
static int32_t print(void *user_data, lunatic_call *call, const int64_t *params,
                     size_t params_len, int64_t *results, size_t results_len) {
    (void)results;
    (void)results_len;
    const char *prefix = user_data;
    if (params_len != 2 || params[1] < 0 || params[1] > 256) return 2;
    char text[257] = {0};
    /* Out of bounds: an error here, and the guest traps when we return. */
    if (lunatic_call_read(call, (uint32_t)params[0], (uint8_t *)text, (uint32_t)params[1]) != LUNATIC_OK)
        return 3;
    printf("%s\"%s\"\n", prefix, text);
    return 0;
}

/* app::fetch(ptr: i32, cap: i32) -> i32, async: the guest waits (without
 * holding a runtime thread) until a thread of the app's finishes the call:
 * it writes the answer at ptr and returns its length. */
struct fetch_job {
    lunatic_completion *completion;
    uint32_t ptr, cap;
};

static void *fetch_worker(void *arg) {
    struct fetch_job *job = arg;
    struct timespec pause = {0, 50 * 1000 * 1000}; /* stands for real work */
    nanosleep(&pause, NULL);
    const char *answer = "data from the app";
    uint32_t len = (uint32_t)strlen(answer);
    if (len > job->cap) len = job->cap;
    int64_t result = len;
    /* Out of bounds would trap the guest when it resumes, not crash us. */
    if (lunatic_completion_write(job->completion, job->ptr, (const uint8_t *)answer, len) != LUNATIC_OK ||
        lunatic_completion_finish(job->completion, 0, &result, 1) != LUNATIC_OK)
        fprintf(stderr, "fetch: %s\n", lunatic_last_error());
    free(job);
    return NULL;
}

static int32_t fetch(void *user_data, lunatic_call *call, const int64_t *params,
                     size_t params_len, lunatic_completion *completion) {
    (void)user_data;
    if (params_len != 2 || params[1] < 0) return 1;
    uint64_t caller = 0;
    lunatic_call_process_id(call, &caller);
    struct fetch_job *job = malloc(sizeof *job);
    if (!job) return 2;
    job->completion = completion;
    job->ptr = (uint32_t)params[0];
    job->cap = (uint32_t)params[1];
    printf("host: fetch for process %" PRIu64 " answered from another thread\n", caller);
    pthread_t thread;
    if (pthread_create(&thread, NULL, fetch_worker, job) != 0) {
        free(job);
        return 3; /* the call traps; the runtime frees the completion */
    }
    pthread_detach(thread);
    return 0;
}

static uint8_t *read_file(const char *path, size_t *len) {
    FILE *file = fopen(path, "rb");
    if (!file) return NULL;
    fseek(file, 0, SEEK_END);
    long size = ftell(file);
    fseek(file, 0, SEEK_SET);
    uint8_t *bytes = malloc((size_t)size);
    *len = fread(bytes, 1, (size_t)size, file);
    fclose(file);
    return bytes;
}

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : "examples/embed-c/guest.wat";
    size_t len = 0;
    uint8_t *bytes = read_file(path, &len);
    if (!bytes) {
        fprintf(stderr, "cannot read %s\n", path);
        return 1;
    }

    lunatic_builder *builder = NULL;
    CHECK(lunatic_builder_new(&builder));
    CHECK(lunatic_builder_threads(builder, 2));
    CHECK(lunatic_builder_host_function(builder, "app", "add", "ii", "i", add, NULL));
    CHECK(lunatic_builder_host_function(builder, "app", "print", "ii", "", print,
                                        "host: guest says "));
    CHECK(lunatic_builder_async_host_function(builder, "app", "fetch", "ii", "i", fetch, NULL));
    lunatic_runtime *runtime = NULL;
    CHECK(lunatic_builder_build(builder, &runtime));

    lunatic_module *module = NULL;
    CHECK(lunatic_load(runtime, bytes, len, &module));
    free(bytes);
    uint64_t module_id = 0;
    CHECK(lunatic_module_id(module, &module_id));
    printf("module %016" PRIx64 " loaded\n", module_id);

    /* The app's own process ID, which the guest finds as "app". */
    lunatic_mailbox *mailbox = NULL;
    CHECK(lunatic_mailbox_new(runtime, &mailbox));
    CHECK(lunatic_mailbox_register(mailbox, "app"));

    /* What the guest may use: 1 MiB of memory, two arguments, nothing else. */
    lunatic_config *config = NULL;
    CHECK(lunatic_config_new(&config));
    CHECK(lunatic_config_max_memory(config, 1 << 20));
    CHECK(lunatic_config_add_arg(config, "guest"));
    CHECK(lunatic_config_add_arg(config, "an argument"));
    CHECK(lunatic_config_add_env(config, "GREETING", "hi"));
    uint64_t pid = 0;
    CHECK(lunatic_spawn(runtime, module, "main", config, NULL, 0, &pid));
    printf("spawned process %" PRIu64 "\n", pid);
    CHECK(lunatic_mailbox_monitor(mailbox, pid));
    CHECK(lunatic_mailbox_send(mailbox, pid, 41, (const uint8_t *)"go", 2));

    /* The answer, then the monitor's notice. */
    for (int i = 0; i < 2; i++) {
        lunatic_message *message = NULL;
        CHECK(lunatic_mailbox_receive(mailbox, 10000, &message));
        int32_t kind = -1;
        int64_t tag = 0;
        uint64_t from = 0;
        const uint8_t *data = NULL;
        size_t data_len = 0;
        CHECK(lunatic_message_info(message, &kind, &tag, &from, &data, &data_len));
        if (kind == LUNATIC_MESSAGE_DATA)
            printf("app received tag %" PRId64 ": %.*s\n", tag, (int)data_len, (const char *)data);
        else if (kind == LUNATIC_MESSAGE_PROCESS_DIED)
            printf("app told: process %" PRIu64 " ended\n", from);
        CHECK(lunatic_message_free(message));
    }
    int32_t how = -1, status = -1;
    CHECK(lunatic_wait(runtime, pid, 10000, &how, &status));
    printf("process %" PRIu64 " returned: how=%d status=%d\n", pid, how, status);

    /* A guest passing a bad pointer to a host function traps alone. */
    CHECK(lunatic_spawn(runtime, module, "bad", config, NULL, 0, &pid));
    CHECK(lunatic_wait(runtime, pid, 10000, &how, &status));
    printf("process %" PRIu64 " trapped: how=%d status=%d (%s)\n", pid, how, status,
           strstr(lunatic_last_error(), "out of bounds") ? "out of bounds" : lunatic_last_error());

    /* The mailbox's byte limit: each message counts its bytes plus 192. */
    CHECK(lunatic_mailbox_set_max_size(mailbox, 1024));
    uint64_t self = 0;
    CHECK(lunatic_mailbox_id(mailbox, &self));
    uint8_t big[600] = {0};
    for (int i = 0; i < 3; i++) CHECK(lunatic_mailbox_send(mailbox, self, i + 1, big, sizeof big));
    uint64_t dropped = 0;
    CHECK(lunatic_mailbox_dropped(mailbox, &dropped));
    int kept = 0;
    lunatic_message *message = NULL;
    while (lunatic_mailbox_receive(mailbox, 0, &message) == LUNATIC_OK) {
        kept++;
        CHECK(lunatic_message_free(message));
    }
    printf("mailbox limit: %d kept, %" PRIu64 " dropped\n", kept, dropped);

    /* One more left waiting for a message that never comes. */
    CHECK(lunatic_spawn(runtime, module, "main", config, NULL, 0, &pid));
    CHECK(lunatic_config_free(config));
    uint64_t killed = 0;
    CHECK(lunatic_shutdown(runtime, 5000, &killed));
    printf("shut down: %" PRIu64 " process killed\n", killed);

    CHECK(lunatic_mailbox_free(mailbox));
    CHECK(lunatic_module_free(module));
    CHECK(lunatic_runtime_free(runtime));
    return 0;
}
