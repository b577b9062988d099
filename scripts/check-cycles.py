#!/usr/bin/env python3
"""Fails when two sibling modules of a crate import each other, at any depth (a cycle through
`crate::a` and `crate::b`, or `policies::export` and `policies::validate`). Usage: check-cycles.py SRC_DIR [--edges]"""
import os, re, sys
src = sys.argv[1].rstrip('/')
files = {}
for root, _, fs in os.walk(src):
    for f in fs:
        if f.endswith('.rs'):
            p = os.path.join(root, f)
            parts = os.path.relpath(p, src)[:-3].split(os.sep)
            if parts[0] == 'bin' or parts in (['lib'], ['main']):
                continue
            if parts[-1] == 'mod':
                parts = parts[:-1]
            files[p] = tuple(parts)
mods = set(files.values()) | {()}
# inline `mod x {` blocks are rare outside tests; ignore them
def resolve(mpath, ref):
    segs = ref.split('::')
    if segs[0] == 'crate': base = (); segs = segs[1:]
    elif segs[0] == 'self': base = mpath; segs = segs[1:]
    else:
        base = mpath
        while segs and segs[0] == 'super':
            base = base[:-1]; segs = segs[1:]
    target = base
    for s in segs:
        if target + (s,) in mods: target = target + (s,)
        else: break
    return target
edges = {}
for p, mp in files.items():
    text = open(p).read()
    text = re.split(r'#\[cfg\(test\)\]\s*mod \w+', text)[0]
    text = re.sub(r'//[^\n]*', '', text)
    refs = set()
    def tree(prefix, body):
        # split a use-tree body on top-level commas, recurse into nested groups
        depth, cur, items = 0, '', []
        for ch in body:
            if ch == '{': depth += 1
            if ch == '}': depth -= 1
            if ch == ',' and depth == 0: items.append(cur); cur = ''
            else: cur += ch
        items.append(cur)
        for it in items:
            it = it.strip()
            m = re.match(r'(\w+(?:::\w+)*)(?:::\{(.*)\})?$', it, re.S)
            if not m: continue
            refs.add(prefix + '::' + m.group(1))
            if m.group(2) is not None: tree(prefix + '::' + m.group(1), m.group(2))
    for m in re.finditer(r'\b((?:crate|self|super)(?:::\w+)*)::\{', text):
        depth, j = 1, m.end()
        while j < len(text) and depth:
            if text[j] == '{': depth += 1
            elif text[j] == '}': depth -= 1
            j += 1
        tree(m.group(1), text[m.end():j-1])
    for m in re.finditer(r'\b((?:crate|self|super)(?:::\w+)+)', text):
        refs.add(m.group(1))
    for r in refs:
        t = resolve(mp, r)
        # lowest common ancestor
        k = 0
        while k < len(mp) and k < len(t) and mp[k] == t[k]: k += 1
        if k < len(mp) and k < len(t):
            lvl = mp[:k]
            edges.setdefault(lvl, {}).setdefault(mp[k], set()).add(t[k])
found = False
for lvl, g in sorted(edges.items()):
    index, low, stack, on, i = {}, {}, [], set(), [0]
    def strong(v):
        index[v] = low[v] = i[0]; i[0] += 1; stack.append(v); on.add(v)
        for w in g.get(v, ()):
            if w not in index: strong(w); low[v] = min(low[v], low[w])
            elif w in on: low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop(); on.discard(w); comp.append(w)
                if w == v: break
            if len(comp) > 1:
                global found; found = True
                print('cycle in', '::'.join(('crate',) + lvl) + ':', ' '.join(sorted(comp)))
                if '--edges' in sys.argv:
                    for a in sorted(comp):
                        print('   ', a, '->', ' '.join(sorted(x for x in g.get(a, ()) if x in comp)))
    for v in list(g):
        if v not in index: strong(v)
if not found: print('no cycles in', src)
sys.exit(1 if found else 0)
