# FNV-1a (64-bit) hash of the input memory: r1 points to the bytes, r2 holds their length.
# bpfvm run bench/programs/fnv1a.asm --mem "68 65 6c 6c 6f"    -> 0xa430d84680aabd0b ("hello")
    lddw %r0, 0xcbf29ce484222325      # offset basis
    lddw %r4, 0x100000001b3           # FNV prime
    mov %r3, 0                        # index
loop:
    jge %r3, %r2, done
    mov %r5, %r1
    add %r5, %r3
    ldxb %r5, [%r5+0]
    xor %r0, %r5
    mul %r0, %r4
    add %r3, 1
    ja loop
done:
    exit
