/* lunatic.h: the C API of lunatic-wasmi, an interpreter-first Lunatic
 * runtime (link liblunatic_wasmi.a; on Linux also -lpthread -ldl -lm).
 *
 * Conventions:
 *  - Every function returns 0 (LUNATIC_OK) or an error code below, and
 *    leaves a message for lunatic_last_error() on the calling thread.
 *  - Handles are opaque and freed by their _free function, once; freeing
 *    NULL is allowed. A handle may be used from any thread, but not from
 *    two threads at once, except the runtime and mailbox handles, which are
 *    thread-safe.
 *  - Pointer arguments are NULL or valid for the given length for the
 *    duration of the call; strings are NUL-terminated UTF-8.
 *  - No Rust panic ever crosses into C (it becomes LUNATIC_INTERNAL).
 *    Callbacks must return normally (no longjmp, no C++ exceptions).
 *
 * This file is checked against src/embed/capi.rs by a test (cargo test
 * --lib capi_header): a function added there must be declared here.
 */
#ifndef LUNATIC_H
#define LUNATIC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Error codes. */
#define LUNATIC_OK 0
#define LUNATIC_INVALID_ARGUMENT 1
#define LUNATIC_LOAD 2
#define LUNATIC_SPAWN 3
#define LUNATIC_NOT_FOUND 4
#define LUNATIC_TIMEOUT 5
#define LUNATIC_SHUT_DOWN 6
#define LUNATIC_INTERNAL 7

/* Message kinds (as the guest's receive returns them). */
#define LUNATIC_MESSAGE_DATA 0
#define LUNATIC_MESSAGE_LINK_DIED 1
#define LUNATIC_MESSAGE_PROCESS_DIED 2

/* How a process ended (lunatic_wait). */
#define LUNATIC_EXIT_RETURNED 0
#define LUNATIC_EXIT_EXITED 1
#define LUNATIC_EXIT_TRAPPED 2
#define LUNATIC_EXIT_KILLED 3
#define LUNATIC_EXIT_LINK_FAILED 4
#define LUNATIC_EXIT_OUT_OF_FUEL 5

/* Permission bits (lunatic_config_permissions). */
#define LUNATIC_CAN_COMPILE_MODULES 1u
#define LUNATIC_CAN_CREATE_CONFIGS 2u
#define LUNATIC_CAN_SPAWN_PROCESSES 4u

typedef struct lunatic_builder lunatic_builder;
typedef struct lunatic_runtime lunatic_runtime;
typedef struct lunatic_module lunatic_module;
typedef struct lunatic_mailbox lunatic_mailbox;
typedef struct lunatic_message lunatic_message;
typedef struct lunatic_subscription lunatic_subscription;
typedef struct lunatic_config lunatic_config;
typedef struct lunatic_completion lunatic_completion;
/* A guest's call of a host function, valid only during the callback. */
typedef void lunatic_call;

/* A host function. params holds the guest's arguments (i32 sign-extended),
 * results has room for the declared results (an i32 result takes the low
 * 32 bits). Return 0; anything else traps the calling process (only it:
 * its links and monitors are told). Runs on a runtime thread inside the
 * guest's call: return quickly, never block. */
typedef int32_t (*lunatic_host_fn)(void *user_data, lunatic_call *call,
                                   const int64_t *params, size_t params_len,
                                   int64_t *results, size_t results_len);

/* An async host function: for work that takes time (a request, a
 * question to the user). It may read and write the caller's memory during
 * the callback, like a host function. Returning 0 takes ownership of
 * `completion`: finish it exactly once, later, from any thread, with
 * lunatic_completion_finish; the guest's call waits meanwhile without
 * holding a thread (other processes run). Returning anything else traps
 * the caller at once, and the completion must not be used (the runtime
 * frees it). If the process ends while it waits (killed, or a failed
 * memory access during the callback, which traps it), finishing is still
 * required (to free the completion) and does nothing else. Runs on a
 * runtime thread: return quickly. Calling one from a start section traps. */
typedef int32_t (*lunatic_async_host_fn)(void *user_data, lunatic_call *call,
                                         const int64_t *params, size_t params_len,
                                         lunatic_completion *completion);

/* Called with each message on a runtime thread; the message is valid
 * during the call only (do not free it). */
typedef void (*lunatic_message_fn)(void *user_data, const lunatic_message *message);

/* Called once by lunatic_mailbox_receive_async on a runtime thread: status
 * 0 and a message valid during the call only (do not free it), or
 * LUNATIC_TIMEOUT / LUNATIC_SHUT_DOWN and NULL (lunatic_last_error() says
 * why, on that thread). */
typedef void (*lunatic_receive_fn)(void *user_data, int32_t status,
                                   const lunatic_message *message);

/* The message of this thread's last failed call ("" after a success). */
const char *lunatic_last_error(void);

/* Building a runtime. */
int32_t lunatic_builder_new(lunatic_builder **out_builder);
int32_t lunatic_builder_threads(lunatic_builder *builder, uint32_t threads);
int32_t lunatic_builder_fuel_slice(lunatic_builder *builder, uint64_t fuel);
/* One thread, every scheduling decision, virtual time and random byte
 * from `seed`. Processes then run only while the app waits in
 * lunatic_wait, lunatic_mailbox_receive (timeout_ms != 0) or
 * lunatic_shutdown (one such wait at a time); between waits they stay
 * where they are, so the same calls give the same run. Timeouts are in
 * virtual time. */
int32_t lunatic_builder_deterministic(lunatic_builder *builder, uint64_t seed);
/* How long a process waits before its memory's zero pages go back to the
 * OS (default 500 ms); ms < 0: never (and no compaction thread). */
int32_t lunatic_builder_compact_idle_after(lunatic_builder *builder, int64_t ms);
/* Bytes of linear memory all processes may hold together (0: no cap). */
int32_t lunatic_builder_max_total_memory(lunatic_builder *builder, uint64_t bytes);
/* The byte limit of each new mailbox (default 256 MiB); see
 * lunatic_mailbox_set_max_size. */
int32_t lunatic_builder_max_mailbox_size(lunatic_builder *builder, uint64_t bytes);
/* params and results are strings of type letters: 'i' (i32), 'I' (i64),
 * e.g. "ii" and "I". user_data is passed back to func, from any thread. */
int32_t lunatic_builder_host_function(lunatic_builder *builder, const char *namespace_,
                                      const char *name, const char *params,
                                      const char *results, lunatic_host_fn func,
                                      void *user_data);
/* The same, for a lunatic_async_host_fn. */
int32_t lunatic_builder_async_host_function(lunatic_builder *builder, const char *namespace_,
                                            const char *name, const char *params,
                                            const char *results, lunatic_async_host_fn func,
                                            void *user_data);
int32_t lunatic_builder_free(lunatic_builder *builder);
/* Consumes (frees) the builder, whether it succeeds or not. */
int32_t lunatic_builder_build(lunatic_builder *builder, lunatic_runtime **out_runtime);

/* Inside a host function: the caller and its memory (bounds-checked; a
 * failed access makes the call trap when the callback returns). */
int32_t lunatic_call_process_id(lunatic_call *call, uint64_t *out_id);
int32_t lunatic_call_read(lunatic_call *call, uint32_t ptr, uint8_t *buf, uint32_t len);
int32_t lunatic_call_write(lunatic_call *call, uint32_t ptr, const uint8_t *buf, uint32_t len);

/* Finishing an async host call, from any thread. _write queues bytes to
 * write into the caller's memory at guest address ptr when the call
 * resumes (out of bounds: the call traps then). _finish always frees the
 * completion: status 0 returns `results` (one int64_t per declared result;
 * a wrong count traps the call and returns LUNATIC_INVALID_ARGUMENT),
 * anything else traps the call. */
int32_t lunatic_completion_write(lunatic_completion *completion, uint32_t ptr,
                                 const uint8_t *buf, uint32_t len);
int32_t lunatic_completion_finish(lunatic_completion *completion, int32_t status,
                                  const int64_t *results, size_t results_len);

/* Modules: Wasm binary (or text) bytes; the ID is a hash of the bytes. */
int32_t lunatic_load(const lunatic_runtime *runtime, const uint8_t *bytes, size_t len,
                     lunatic_module **out_module);
int32_t lunatic_module_id(const lunatic_module *module, uint64_t *out_id);
int32_t lunatic_module_free(lunatic_module *module);

/* Process configurations: what a process may do and see. A new one
 * denies everything (no spawning, no compiling, no files, no arguments).
 * Setters may be called in any order; lunatic_spawn copies the config. */
int32_t lunatic_config_new(lunatic_config **out_config);
/* Most bytes of linear memory (0: 4 GiB). */
int32_t lunatic_config_max_memory(lunatic_config *config, uint64_t bytes);
/* Fuel budget in units of 100 000 (about one fuel per Wasm instruction;
 * 0: unlimited); out of fuel, the process ends with
 * LUNATIC_EXIT_OUT_OF_FUEL. */
int32_t lunatic_config_max_fuel(lunatic_config *config, uint64_t units);
/* Bytes of messages that may wait for the process (a send beyond it kills
 * the process, which its links and monitors are told). */
int32_t lunatic_config_max_mailbox_size(lunatic_config *config, uint64_t bytes);
/* LUNATIC_CAN_* bits (others: LUNATIC_INVALID_ARGUMENT). */
int32_t lunatic_config_permissions(lunatic_config *config, uint32_t bits);
/* WASI arguments (argv[0] first), environment, and directories: host_path
 * (which must exist) appears to the guest as guest_path. */
int32_t lunatic_config_add_arg(lunatic_config *config, const char *arg);
int32_t lunatic_config_add_env(lunatic_config *config, const char *name, const char *value);
int32_t lunatic_config_add_preopen(lunatic_config *config, const char *host_path,
                                   const char *guest_path);
int32_t lunatic_config_free(lunatic_config *config);

/* Processes. config: NULL for a default one. params: one int64_t per
 * parameter of the export (i32 or i64 parameters only). */
int32_t lunatic_spawn(const lunatic_runtime *runtime, const lunatic_module *module,
                      const char *entry, const lunatic_config *config,
                      const int64_t *params, size_t params_len, uint64_t *out_id);
int32_t lunatic_kill(const lunatic_runtime *runtime, uint64_t id);
/* Waits for a process lunatic_spawn started (timeout_ms < 0: forever).
 * out_how: LUNATIC_EXIT_*; out_code: its exit status (0, the proc_exit
 * code, or 101). After a trap, lunatic_last_error() gives its text.
 * Either out-pointer may be NULL. */
int32_t lunatic_wait(const lunatic_runtime *runtime, uint64_t id, int64_t timeout_ms,
                     int32_t *out_how, int32_t *out_code);

/* Native mailboxes: process IDs owned by the app. */
int32_t lunatic_mailbox_new(const lunatic_runtime *runtime, lunatic_mailbox **out_mailbox);
int32_t lunatic_mailbox_id(const lunatic_mailbox *mailbox, uint64_t *out_id);
int32_t lunatic_mailbox_register(const lunatic_mailbox *mailbox, const char *name);
int32_t lunatic_mailbox_send(const lunatic_mailbox *mailbox, uint64_t to, int64_t tag,
                             const uint8_t *data, size_t len);
/* Blocks the calling thread up to timeout_ms (< 0: for ever; 0: only
 * looks, LUNATIC_TIMEOUT if nothing is waiting). Free the message with
 * lunatic_message_free. */
int32_t lunatic_mailbox_receive(const lunatic_mailbox *mailbox, int64_t timeout_ms,
                                lunatic_message **out_message);
/* Returns at once; func is called exactly once, on a runtime thread, with
 * the next message, or LUNATIC_TIMEOUT after timeout_ms (< 0: no
 * timeout), or LUNATIC_SHUT_DOWN when the runtime shuts down or the
 * mailbox handle is freed first. One receiver at a time per mailbox. */
int32_t lunatic_mailbox_receive_async(const lunatic_mailbox *mailbox, int64_t timeout_ms,
                                      lunatic_receive_fn func, void *user_data);
int32_t lunatic_mailbox_on_message(const lunatic_mailbox *mailbox, lunatic_message_fn func,
                                   void *user_data, lunatic_subscription **out_subscription);
int32_t lunatic_subscription_free(lunatic_subscription *subscription);
int32_t lunatic_mailbox_link(const lunatic_mailbox *mailbox, uint64_t id, int64_t tag);
int32_t lunatic_mailbox_monitor(const lunatic_mailbox *mailbox, uint64_t id);
/* The most bytes of messages that may wait in the mailbox (each data
 * message counts its bytes plus 192). A message that does not fit is
 * dropped and counted, its sender is not told, and the mailbox takes
 * messages again once the app has received enough to make room. Link and
 * monitor notices always get through. */
int32_t lunatic_mailbox_set_max_size(const lunatic_mailbox *mailbox, uint64_t bytes);
int32_t lunatic_mailbox_dropped(const lunatic_mailbox *mailbox, uint64_t *out_count);
int32_t lunatic_mailbox_free(lunatic_mailbox *mailbox);

/* Messages. Any out-pointer may be NULL; out_data stays valid until the
 * message is freed. */
int32_t lunatic_message_info(const lunatic_message *message, int32_t *out_kind,
                             int64_t *out_tag, uint64_t *out_process_id,
                             const uint8_t **out_data, size_t *out_len);
int32_t lunatic_message_free(lunatic_message *message);

/* Pausing (an app going to the background) and shutting down. */
int32_t lunatic_pause(const lunatic_runtime *runtime);
int32_t lunatic_resume(const lunatic_runtime *runtime);
/* Kills every process, waits up to timeout_ms for them to end, closes
 * every mailbox. out_killed (may be NULL): processes killed. */
int32_t lunatic_shutdown(const lunatic_runtime *runtime, uint64_t timeout_ms,
                         uint64_t *out_killed);
int32_t lunatic_runtime_free(lunatic_runtime *runtime);

#ifdef __cplusplus
}
#endif

#endif /* LUNATIC_H */
