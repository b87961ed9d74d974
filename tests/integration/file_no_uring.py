#!/usr/bin/env python3
"""Run a command with io_uring disabled by seccomp, as a container runtime's policy does.

  file_no_uring.py CMD [ARGS...]

Installs a seccomp filter that makes io_uring_setup, io_uring_enter and io_uring_register
fail with EPERM (every other system call is allowed), then execs CMD. The filter is
inherited by CMD and its threads, so Sluice's io_uring_queue_init fails exactly as it does
under Docker's default profile; the `file` source and sink must then fall back to
pread/pwrite with one warning (docs/file-tailing.md). x86-64 only: elsewhere it prints
"unsupported" and exits 77 (the caller skips).
"""
import ctypes
import os
import platform
import struct
import sys

PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
SECCOMP_RET_ALLOW = 0x7fff0000
SECCOMP_RET_ERRNO = 0x00050000
EPERM = 1
AUDIT_ARCH_X86_64 = 0xc000003e
NR = {'io_uring_setup': 425, 'io_uring_enter': 426, 'io_uring_register': 427}
# Classic BPF opcodes.
LD_W_ABS = 0x20
JEQ_K = 0x15
RET_K = 0x06


def insn(code, jt, jf, k):
    return struct.pack('HBBI', code, jt, jf, k)


def main():
    if platform.machine() != 'x86_64' or len(sys.argv) < 2:
        print('unsupported' if len(sys.argv) > 1 else __doc__, file=sys.stderr)
        return 77 if len(sys.argv) > 1 else 2
    nrs = sorted(NR.values())
    prog = [insn(LD_W_ABS, 0, 0, 4),  # seccomp_data.arch
            insn(JEQ_K, 1, 0, AUDIT_ARCH_X86_64),
            insn(RET_K, 0, 0, SECCOMP_RET_ALLOW),
            insn(LD_W_ABS, 0, 0, 0)]  # seccomp_data.nr
    for i, nr in enumerate(nrs):
        # Match: jump over the remaining compares and the allow to the deny.
        prog.append(insn(JEQ_K, len(nrs) - i, 0, nr))
    prog.append(insn(RET_K, 0, 0, SECCOMP_RET_ALLOW))
    prog.append(insn(RET_K, 0, 0, SECCOMP_RET_ERRNO | EPERM))
    code = b''.join(prog)
    buf = ctypes.create_string_buffer(code, len(code))

    class SockFprog(ctypes.Structure):
        _fields_ = [('len', ctypes.c_ushort), ('filter', ctypes.c_void_p)]

    fprog = SockFprog(len(prog), ctypes.addressof(buf))
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p, ctypes.c_ulong,
                           ctypes.c_ulong]
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, None, 0, 0) != 0 or \
            libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) != 0:
        print('seccomp: %s' % os.strerror(ctypes.get_errno()), file=sys.stderr)
        return 77
    os.execvp(sys.argv[1], sys.argv[1:])
    return 1


if __name__ == '__main__':
    sys.exit(main())
