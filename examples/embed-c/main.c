/* The runtime embedded in a C program: start it with one host function
 * set of the app's, load a guest, talk to it through a native mailbox,
 * watch a guest trap in a host function, shut down.
 *
 *   examples/embed-c/run      (builds the library and this program) */
#include "lunatic.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

    lunatic_config config = {.max_memory = 1 << 20, .max_fuel = 0, .permissions = 0};
    uint64_t pid = 0;
    CHECK(lunatic_spawn(runtime, module, "main", &config, NULL, 0, &pid));
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
    CHECK(lunatic_spawn(runtime, module, "bad", &config, NULL, 0, &pid));
    CHECK(lunatic_wait(runtime, pid, 10000, &how, &status));
    printf("process %" PRIu64 " trapped: how=%d status=%d (%s)\n", pid, how, status,
           strstr(lunatic_last_error(), "out of bounds") ? "out of bounds" : lunatic_last_error());

    /* One more left waiting for a message that never comes. */
    CHECK(lunatic_spawn(runtime, module, "main", &config, NULL, 0, &pid));
    uint64_t killed = 0;
    CHECK(lunatic_shutdown(runtime, 5000, &killed));
    printf("shut down: %" PRIu64 " process killed\n", killed);

    CHECK(lunatic_mailbox_free(mailbox));
    CHECK(lunatic_module_free(module));
    CHECK(lunatic_runtime_free(runtime));
    return 0;
}
