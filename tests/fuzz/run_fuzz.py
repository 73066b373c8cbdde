#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Run one libFuzzer target for a fixed time, as a meson test (suite
fuzz, clang builds only): its seed corpus (tests/fuzz/corpus/TARGET, if
there is one) is copied to a temporary directory first, so that the inputs
the run finds stay out of the source tree. Fails on anything the target
or a sanitizer reports; the crashing input is kept in the build tree as
crash-TARGET-* and named in the output. The seed is fixed (1) unless
VGW_FUZZ_SEED says otherwise (0: random).

    run_fuzz.py TARGET_BINARY SEEDS_DIR SECONDS"""

import os
import shutil
import subprocess
import sys
import tempfile


def main():
    exe, seeds, secs = sys.argv[1], sys.argv[2], int(sys.argv[3])
    name = os.path.basename(exe)
    secs = int(os.environ.get('VGW_FUZZ_SECONDS', secs))
    out = os.path.dirname(os.path.abspath(exe))
    with tempfile.TemporaryDirectory(prefix='vgw-fuzz-%s-' % name) as tmp:
        corpus = os.path.join(tmp, 'corpus')
        if os.path.isdir(seeds):
            shutil.copytree(seeds, corpus)
        else:
            os.makedirs(corpus)
        n_seeds = len(os.listdir(corpus))
        # a fixed seed by default: the same inputs in the same order on
        # every run (a finding shows up every time, not now and then);
        # VGW_FUZZ_SEED=0 for a random one
        seed = int(os.environ.get('VGW_FUZZ_SEED', '1'))
        argv = [exe, '-max_total_time=%d' % secs, '-timeout=10', '-rss_limit_mb=2048',
                '-print_final_stats=1', '-artifact_prefix=%s/crash-%s-' % (out, name)] + \
            (['-seed=%d' % seed] if seed else []) + [corpus]
        print('%s: %d s from %d seed(s): %s' % (name, secs, n_seeds, ' '.join(argv)), flush=True)
        # TMPDIR: what a target makes there (fuzz_ctl's listening socket)
        # goes with the corpus, also when it crashes
        r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           env=dict(os.environ, TMPDIR=tmp))
        text = r.stdout.decode(errors='replace')
        tail = '\n'.join(text.splitlines()[-40:])
        stats = [l for l in text.splitlines() if l.startswith('stat::') or ' DONE ' in l]
        print('\n'.join(stats[-8:]))
        if r.returncode != 0:
            print('%s: FAILED (exit %d); output ends:\n%s' % (name, r.returncode, tail))
            return 1
        print('%s: %d inputs in the corpus after the run, no crash' %
              (name, len(os.listdir(corpus))))
    return 0


if __name__ == '__main__':
    sys.exit(main())
