#!/usr/bin/env python3
"""tests/lib/layout.py DOC INITDIR OBJDIR

Checks init/ against the folder map in DOC (docs/how-it-works.md, the
section "The code"), and prints one line per finding; exit 1 if any.

The map is a table with one row per folder, lowest layer first:

    | folder | header | ... |
    | `core/` | `core/core.h` | ... |

What is checked:
- every folder the map names exists with its header, and every folder of
  init/ (but main.c's top level) is in the map;
- includes: a folder's header is included only from its own folder, from
  higher folders and from the tests; any other header of a folder (an
  internal one) only from its own folder and the tests;
- calls, from the objects in OBJDIR (nm): no file calls into a higher
  folder, and no two files call each other;
- every init/ path DOC names (`init/...`) exists.
"""
import os
import re
import subprocess
import sys

doc, init, objdir = sys.argv[1:4]
problems = []


def bad(msg):
    problems.append(msg)


text = open(doc).read()
m = re.search(r'^## The code\n(.*?)(?=^## |\Z)', text, re.M | re.S)
if not m:
    print('%s: no "## The code" section' % doc)
    sys.exit(1)
section = m.group(1)
order = []
headers = {}
for row in re.finditer(r'^\| `([a-z]+)/` \| `([a-z]+/[a-z-]+\.h)` \|', section, re.M):
    order.append(row.group(1))
    headers[row.group(1)] = row.group(2)
if len(order) < 2:
    bad('%s: the map in "The code" names fewer than two folders' % doc)
rank = {f: i for i, f in enumerate(order)}
rank['.'] = len(order)  # main.c is above everything

for f in order:
    if not os.path.isdir(os.path.join(init, f)):
        bad('map: folder %s/ does not exist' % f)
    if not os.path.isfile(os.path.join(init, headers[f])):
        bad('map: header %s does not exist' % headers[f])
for d in sorted(os.listdir(init)):
    if os.path.isdir(os.path.join(init, d)) and d not in rank:
        bad('init/%s/ is not in the map of %s' % (d, doc))

for p in sorted(set(re.findall(r'\binit/[A-Za-z0-9_./-]*[A-Za-z0-9_]', text))):
    if not os.path.exists(os.path.join(os.path.dirname(init), p)):
        bad('%s names %s, which does not exist' % (doc, p))


def folder_of(rel):
    return rel.split('/')[0] if '/' in rel else '.'


# includes
sources = []
for root, _, files in os.walk(init):
    for n in files:
        if n.endswith('.c') or n.endswith('.h'):
            sources.append(os.path.relpath(os.path.join(root, n), init))
for src in sorted(sources):
    here = folder_of(src)
    for line in open(os.path.join(init, src)):
        im = re.match(r'#include "([^"]+)"', line)
        if not im:
            continue
        inc = im.group(1)
        there = folder_of(inc)
        if there == '.' or there not in rank:
            bad('%s includes "%s", which is in no folder of the map' % (src, inc))
            continue
        if inc == headers.get(there):
            if rank[there] > rank[here]:
                bad('%s (%s/) includes %s of the higher folder %s/' %
                    (src, here, inc, there))
        elif there != here:
            bad('%s includes %s, internal to %s/' % (src, inc, there))

# calls, from the objects
defs = {}
undef = {}
for root, _, files in os.walk(objdir):
    for n in files:
        if not n.endswith('.o'):
            continue
        path = os.path.join(root, n)
        rel = os.path.relpath(path, objdir)[:-2] + '.c'
        if not os.path.exists(os.path.join(init, rel)):
            continue
        out = subprocess.run(['nm', path], capture_output=True, text=True,
                             check=True).stdout
        undef[rel] = set()
        for line in out.splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[0] == 'U':
                undef[rel].add(parts[1])
            elif len(parts) == 3 and parts[1] in 'TDBRC':
                defs[parts[2]] = rel
if not undef:
    bad('no objects of init/ under %s' % objdir)
calls = {}
for src, syms in undef.items():
    for s in syms:
        tgt = defs.get(s)
        if tgt is None or tgt == src:
            continue
        calls.setdefault(src, {}).setdefault(tgt, s)
for src, tgts in sorted(calls.items()):
    for tgt, sym in sorted(tgts.items()):
        if rank[folder_of(tgt)] > rank[folder_of(src)]:
            bad('%s calls %s (%s), in the higher folder %s/' %
                (src, sym, tgt, folder_of(tgt)))
        if src < tgt and src in calls.get(tgt, {}):
            bad('%s and %s call each other (%s, %s)' %
                (src, tgt, sym, calls[tgt][src]))

for p in problems:
    print(p)
print('layout: %d folders, %d sources, %d objects, %d problems' %
      (len(order), len(sources), len(undef), len(problems)))
sys.exit(1 if problems else 0)
