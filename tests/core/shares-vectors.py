#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
# An independent implementation of docs/FORMAT.md "Recovery shares" (split
# and text encoding only), written from the description; it printed the test
# vectors that tests/core/test-shares.c checks. Not run by meson.
import hashlib
ALPH="0123456789ABCDEFGHJKMNPQRSTVWXYZ"
def gmul(a,b):
    r=0
    while b:
        if b&1: r^=a
        a<<=1
        if a&0x100: a^=0x11b
        b>>=1
    return r
# GF32
exp=[0]*62; log=[0]*32; x=1
for i in range(31):
    exp[i]=exp[i+31]=x; log[x]=i; x<<=1
    if x&0x20: x^=0x25
def m32(a,b): return 0 if a==0 or b==0 else exp[log[a]+log[b]]
def rs_check(data):
    # remainder of data*x^2 mod (x^2+6x+8)
    r1=r0=0
    for s in data:
        f=s^r1; r1=r0^m32(f,6); r0=m32(f,8)
    return [r1,r0]
def gen_id(rk,repo):
    return hashlib.blake2b(b"coffer-recovery-generation-v1"+repo,key=rk,digest_size=32).digest()[:3]
def share_text(x,k,repo,gen,setid,y):
    p=bytes([x<<4|k])+repo[:2]+gen+setid+y
    p+=bytes([hashlib.blake2b(b"coffer-recovery-share"+p,digest_size=32).digest()[0]])
    bits=''.join(format(b,'08b') for b in p)
    syms=[int(bits[i*5:i*5+5],2) for i in range(40)]
    a=syms[:20]; b=syms[20:]
    allsym=a+rs_check(a)+b+rs_check(b)
    t=''.join(ALPH[s] for s in allsym)
    return '-'.join(t[i:i+4] for i in range(0,44,4))
def split(rk,repo,k,n,coef,setid):
    gen=gen_id(rk,repo); out=[]
    for x in range(1,n+1):
        y=[]
        for j in range(16):
            v=0
            for d in range(k-1,0,-1):
                v=gmul(v,x)^coef[(d-1)*16+j]
            v=gmul(v,x)^rk[j]
            y.append(v)
        out.append(share_text(x,k,repo,gen,setid,bytes(y)))
    return gen,out
rk=bytes(range(16)); repo=bytes(range(0x10,0x20))
g,s=split(rk,repo,2,3,bytes(range(0xa0,0xb0)),bytes([0x5e,0x75]))
print(g.hex()); print('\n'.join(s))
g,s=split(rk,repo,3,5,bytes(range(0x20,0x40)),bytes([0x01,0x02]))
print(g.hex()); print('\n'.join(s))
