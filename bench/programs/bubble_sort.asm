# Bubble sort of the input bytes (r1, length r2) in place, ascending; returns the first byte.
    mov %r6, %r2                     # n
outer:
    jle %r6, 1, done
    mov %r3, 0                       # i
    mov %r7, %r6
    sub %r7, 1
inner:
    jge %r3, %r7, next
    mov %r4, %r1
    add %r4, %r3
    ldxb %r8, [%r4+0]
    ldxb %r9, [%r4+1]
    jle %r8, %r9, noswap
    stxb [%r4+0], %r9
    stxb [%r4+1], %r8
noswap:
    add %r3, 1
    ja inner
next:
    sub %r6, 1
    ja outer
done:
    ldxb %r0, [%r1+0]
    exit
