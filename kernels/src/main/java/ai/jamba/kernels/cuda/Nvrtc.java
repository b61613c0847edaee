package ai.jamba.kernels.cuda;

import ai.jamba.kernels.BackendUnavailableException;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.util.List;
import java.util.Map;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/** NVRTC, the CUDA runtime compiler, through FFM: CUDA C source in, a cubin for the device's architecture out. */
final class Nvrtc {
    private final MethodHandle version, create, compile, logSize, log, cubinSize, cubin, destroy, errorString;

    private Nvrtc(SymbolLookup lib) {
        version = fn(lib, "nvrtcVersion", ADDRESS, ADDRESS);
        create = fn(lib, "nvrtcCreateProgram", ADDRESS, ADDRESS, ADDRESS, JAVA_INT, ADDRESS, ADDRESS);
        compile = fn(lib, "nvrtcCompileProgram", JAVA_LONG, JAVA_INT, ADDRESS);
        logSize = fn(lib, "nvrtcGetProgramLogSize", JAVA_LONG, ADDRESS);
        log = fn(lib, "nvrtcGetProgramLog", JAVA_LONG, ADDRESS);
        cubinSize = fn(lib, "nvrtcGetCUBINSize", JAVA_LONG, ADDRESS);
        cubin = fn(lib, "nvrtcGetCUBIN", JAVA_LONG, ADDRESS);
        destroy = fn(lib, "nvrtcDestroyProgram", ADDRESS);
        errorString = Linker.nativeLinker().downcallHandle(find(lib, "nvrtcGetErrorString"), FunctionDescriptor.of(ADDRESS, JAVA_INT));
    }

    static Nvrtc load() {
        return new Nvrtc(NativeLibraries.nvrtc());
    }

    private static MemorySegment find(SymbolLookup lib, String name) {
        return lib.find(name).orElseThrow(() -> new BackendUnavailableException("libnvrtc has no " + name));
    }

    private static MethodHandle fn(SymbolLookup lib, String name, MemoryLayout... args) {
        return Linker.nativeLinker().downcallHandle(find(lib, name), FunctionDescriptor.of(JAVA_INT, args));
    }

    /** "major.minor". */
    String version() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment major = a.allocate(JAVA_INT), minor = a.allocate(JAVA_INT);
            check("nvrtcVersion", (int) invoke(version, major, minor));
            return major.get(JAVA_INT, 0) + "." + minor.get(JAVA_INT, 0);
        }
    }

    /**
     * Compiles {@code source} (named {@code name} in messages) with {@code headers} (include name → text) and
     * {@code options}; returns the cubin. A compile error throws with NVRTC's log.
     */
    byte[] compile(String name, String source, Map<String, String> headers, List<String> options) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment prog = a.allocate(ADDRESS);
            int n = headers.size();
            MemorySegment hdrText = a.allocate(ADDRESS, Math.max(1, n)), hdrName = a.allocate(ADDRESS, Math.max(1, n));
            int i = 0;
            for (var h : headers.entrySet()) {
                hdrName.setAtIndex(ADDRESS, i, a.allocateFrom(h.getKey()));
                hdrText.setAtIndex(ADDRESS, i, a.allocateFrom(h.getValue()));
                i++;
            }
            check("nvrtcCreateProgram(" + name + ")", (int) invoke(create, prog, a.allocateFrom(source), a.allocateFrom(name), n, hdrText, hdrName));
            long p = prog.get(JAVA_LONG, 0);
            try {
                MemorySegment opts = a.allocate(ADDRESS, Math.max(1, options.size()));
                for (int j = 0; j < options.size(); j++) opts.setAtIndex(ADDRESS, j, a.allocateFrom(options.get(j)));
                int r = (int) invoke(compile, p, options.size(), opts);
                if (r != 0)
                    throw new CudaException("NVRTC could not compile " + name + " (" + errorText(r) + ") with options "
                            + String.join(" ", options) + ":\n" + programLog(a, p));
                MemorySegment size = a.allocate(JAVA_LONG);
                check("nvrtcGetCUBINSize", (int) invoke(cubinSize, p, size));
                MemorySegment bin = a.allocate(size.get(JAVA_LONG, 0));
                check("nvrtcGetCUBIN", (int) invoke(cubin, p, bin));
                return bin.toArray(JAVA_BYTE);
            } finally {
                invoke(destroy, prog);
            }
        }
    }

    private String programLog(Arena a, long p) {
        MemorySegment size = a.allocate(JAVA_LONG);
        if ((int) invoke(logSize, p, size) != 0) return "(no log)";
        MemorySegment text = a.allocate(Math.max(1, size.get(JAVA_LONG, 0)));
        if ((int) invoke(log, p, text) != 0) return "(no log)";
        return text.getString(0);
    }

    private String errorText(int code) {
        MemorySegment s = (MemorySegment) invoke(errorString, code);
        return s.reinterpret(256).getString(0);
    }

    private void check(String what, int r) {
        if (r != 0) throw new CudaException(what + ": " + errorText(r));
    }

    private static Object invoke(MethodHandle h, Object... args) {
        try {
            return h.invokeWithArguments(args);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }
}
