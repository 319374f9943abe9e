# xorshift64 iterated 1000 times from a fixed seed; returns the final state.
    lddw %r0, 0x9e3779b97f4a7c15
    mov %r2, 1000
loop:
    mov %r3, %r0
    lsh %r3, 13
    xor %r0, %r3
    mov %r3, %r0
    rsh %r3, 7
    xor %r0, %r3
    mov %r3, %r0
    lsh %r3, 17
    xor %r0, %r3
    sub %r2, 1
    jne %r2, 0, loop
    exit
