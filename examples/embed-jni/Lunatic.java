// The runtime embedded in a JVM program through JNI (the way an Android
// app in Kotlin or Java links it): a thin class over the C API
// (src/embed/lunatic.h), glue in lunatic_jni.c. Handles are C pointers
// held as longs; every failed call throws LunaticException with the C
// API's code and message.
//
//   examples/embed-jni/run      (builds the library, the glue and this)

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

public final class Lunatic {
    /** A failed call: the C API's error code and message. */
    public static final class LunaticException extends RuntimeException {
        public final int code;

        public LunaticException(int code, String message) {
            super(message + " (code " + code + ")");
            this.code = code;
        }
    }

    /** A received data message. */
    public static final class Data {
        public final long tag;
        public final byte[] bytes;

        public Data(long tag, byte[] bytes) {
            this.tag = tag;
            this.bytes = bytes;
        }
    }

    static native long start(int threads);
    static native long load(long runtime, byte[] wasm);
    static native long spawn(long runtime, long module, String entry, String[] args);
    static native long mailbox(long runtime);
    static native long mailboxId(long mailbox);
    static native void register(long mailbox, String name);
    static native void send(long mailbox, long to, long tag, byte[] data);
    /** The next data message, or null on a timeout. */
    static native Data receive(long mailbox, long timeoutMs);
    static native long shutdown(long runtime, long timeoutMs);
    static native void free(long runtime, long module, long mailbox);

    public static void main(String[] argv) throws Exception {
        System.loadLibrary("lunatic_jni");
        byte[] wasm = Files.readAllBytes(Path.of(argv.length > 0 ? argv[0] : "examples/embed-jni/echo.wat"));
        long runtime = start(2);
        long module = load(runtime, wasm);
        long mailbox = mailbox(runtime);
        register(mailbox, "app");
        long pid = spawn(runtime, module, "main", new String[] {"echo"});
        System.out.println("spawned process " + pid);
        send(mailbox, pid, 1, "hello from Java".getBytes(StandardCharsets.UTF_8));
        Data reply = receive(mailbox, 10_000);
        System.out.println("Java received tag " + reply.tag + ": " + new String(reply.bytes, StandardCharsets.UTF_8));
        try {
            load(runtime, "not wasm".getBytes(StandardCharsets.UTF_8));
        } catch (LunaticException e) {
            System.out.println("a bad module is refused with code " + e.code);
        }
        spawn(runtime, module, "main", new String[] {"echo"}); // left waiting
        System.out.println("shut down: " + shutdown(runtime, 5_000) + " process killed");
        free(runtime, module, mailbox);
    }
}
