/* JNI glue between Lunatic.java and the C API (src/embed/lunatic.h): each
 * native method calls the C API and turns a failure into a
 * LunaticException carrying the code and lunatic_last_error(). */
#include <jni.h>
#include <stdint.h>
#include <stdlib.h>

#include "lunatic.h"

/* Throws if code is not LUNATIC_OK; returns whether it threw. */
static int failed(JNIEnv *env, int32_t code) {
    if (code == LUNATIC_OK) return 0;
    jclass class = (*env)->FindClass(env, "Lunatic$LunaticException");
    if (!class) return 1; /* FindClass threw already */
    jmethodID init = (*env)->GetMethodID(env, class, "<init>", "(ILjava/lang/String;)V");
    jstring message = (*env)->NewStringUTF(env, lunatic_last_error());
    jobject error = (*env)->NewObject(env, class, init, (jint)code, message);
    if (error) (*env)->Throw(env, (jthrowable)error);
    return 1;
}

/* Handles travel as jlong. */
#define HANDLE(type, value) ((type *)(intptr_t)(value))

JNIEXPORT jlong JNICALL Java_Lunatic_start(JNIEnv *env, jclass cls, jint threads) {
    (void)cls;
    lunatic_builder *builder = NULL;
    lunatic_runtime *runtime = NULL;
    if (failed(env, lunatic_builder_new(&builder))) return 0;
    if (failed(env, lunatic_builder_threads(builder, (uint32_t)threads))) {
        lunatic_builder_free(builder);
        return 0;
    }
    if (failed(env, lunatic_builder_build(builder, &runtime))) return 0;
    return (jlong)(intptr_t)runtime;
}

JNIEXPORT jlong JNICALL Java_Lunatic_load(JNIEnv *env, jclass cls, jlong runtime, jbyteArray wasm) {
    (void)cls;
    jsize len = (*env)->GetArrayLength(env, wasm);
    jbyte *bytes = (*env)->GetByteArrayElements(env, wasm, NULL);
    if (!bytes) return 0;
    lunatic_module *module = NULL;
    int32_t code = lunatic_load(HANDLE(lunatic_runtime, runtime), (const uint8_t *)bytes, (size_t)len, &module);
    (*env)->ReleaseByteArrayElements(env, wasm, bytes, JNI_ABORT);
    if (failed(env, code)) return 0;
    return (jlong)(intptr_t)module;
}

JNIEXPORT jlong JNICALL Java_Lunatic_spawn(JNIEnv *env, jclass cls, jlong runtime, jlong module,
                                           jstring entry, jobjectArray args) {
    (void)cls;
    lunatic_config *config = NULL;
    if (failed(env, lunatic_config_new(&config))) return 0;
    jsize count = args ? (*env)->GetArrayLength(env, args) : 0;
    for (jsize i = 0; i < count; i++) {
        jstring arg = (jstring)(*env)->GetObjectArrayElement(env, args, i);
        const char *text = (*env)->GetStringUTFChars(env, arg, NULL);
        /* (Modified UTF-8: fine for text without NUL or astral characters.) */
        int32_t code = text ? lunatic_config_add_arg(config, text) : LUNATIC_INVALID_ARGUMENT;
        if (text) (*env)->ReleaseStringUTFChars(env, arg, text);
        if (failed(env, code)) {
            lunatic_config_free(config);
            return 0;
        }
    }
    const char *name = (*env)->GetStringUTFChars(env, entry, NULL);
    uint64_t pid = 0;
    int32_t code = name ? lunatic_spawn(HANDLE(lunatic_runtime, runtime), HANDLE(lunatic_module, module),
                                        name, config, NULL, 0, &pid)
                        : LUNATIC_INVALID_ARGUMENT;
    if (name) (*env)->ReleaseStringUTFChars(env, entry, name);
    lunatic_config_free(config);
    if (failed(env, code)) return 0;
    return (jlong)pid;
}

JNIEXPORT jlong JNICALL Java_Lunatic_mailbox(JNIEnv *env, jclass cls, jlong runtime) {
    (void)cls;
    lunatic_mailbox *mailbox = NULL;
    if (failed(env, lunatic_mailbox_new(HANDLE(lunatic_runtime, runtime), &mailbox))) return 0;
    return (jlong)(intptr_t)mailbox;
}

JNIEXPORT jlong JNICALL Java_Lunatic_mailboxId(JNIEnv *env, jclass cls, jlong mailbox) {
    (void)cls;
    uint64_t id = 0;
    if (failed(env, lunatic_mailbox_id(HANDLE(lunatic_mailbox, mailbox), &id))) return 0;
    return (jlong)id;
}

JNIEXPORT void JNICALL Java_Lunatic_register(JNIEnv *env, jclass cls, jlong mailbox, jstring name) {
    (void)cls;
    const char *text = (*env)->GetStringUTFChars(env, name, NULL);
    if (!text) return;
    int32_t code = lunatic_mailbox_register(HANDLE(lunatic_mailbox, mailbox), text);
    (*env)->ReleaseStringUTFChars(env, name, text);
    failed(env, code);
}

JNIEXPORT void JNICALL Java_Lunatic_send(JNIEnv *env, jclass cls, jlong mailbox, jlong to, jlong tag,
                                         jbyteArray data) {
    (void)cls;
    jsize len = (*env)->GetArrayLength(env, data);
    jbyte *bytes = (*env)->GetByteArrayElements(env, data, NULL);
    if (!bytes) return;
    int32_t code = lunatic_mailbox_send(HANDLE(lunatic_mailbox, mailbox), (uint64_t)to, (int64_t)tag,
                                        (const uint8_t *)bytes, (size_t)len);
    (*env)->ReleaseByteArrayElements(env, data, bytes, JNI_ABORT);
    failed(env, code);
}

JNIEXPORT jobject JNICALL Java_Lunatic_receive(JNIEnv *env, jclass cls, jlong mailbox, jlong timeout_ms) {
    (void)cls;
    lunatic_message *message = NULL;
    int32_t code = lunatic_mailbox_receive(HANDLE(lunatic_mailbox, mailbox), (int64_t)timeout_ms, &message);
    if (code == LUNATIC_TIMEOUT) return NULL;
    if (failed(env, code)) return NULL;
    int32_t kind = -1;
    int64_t tag = 0;
    const uint8_t *data = NULL;
    size_t len = 0;
    jobject result = NULL;
    if (!failed(env, lunatic_message_info(message, &kind, &tag, NULL, &data, &len))) {
        jbyteArray bytes = (*env)->NewByteArray(env, (jsize)len);
        if (bytes) {
            (*env)->SetByteArrayRegion(env, bytes, 0, (jsize)len, (const jbyte *)data);
            jclass class = (*env)->FindClass(env, "Lunatic$Data");
            jmethodID init = class ? (*env)->GetMethodID(env, class, "<init>", "(J[B)V") : NULL;
            if (init) result = (*env)->NewObject(env, class, init, (jlong)tag, bytes);
        }
    }
    lunatic_message_free(message);
    return result;
}

JNIEXPORT jlong JNICALL Java_Lunatic_shutdown(JNIEnv *env, jclass cls, jlong runtime, jlong timeout_ms) {
    (void)cls;
    uint64_t killed = 0;
    if (failed(env, lunatic_shutdown(HANDLE(lunatic_runtime, runtime), (uint64_t)timeout_ms, &killed))) return 0;
    return (jlong)killed;
}

JNIEXPORT void JNICALL Java_Lunatic_free(JNIEnv *env, jclass cls, jlong runtime, jlong module, jlong mailbox) {
    (void)env;
    (void)cls;
    lunatic_mailbox_free(HANDLE(lunatic_mailbox, mailbox));
    lunatic_module_free(HANDLE(lunatic_module, module));
    lunatic_runtime_free(HANDLE(lunatic_runtime, runtime));
}
