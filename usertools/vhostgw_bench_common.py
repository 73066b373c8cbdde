# SPDX-License-Identifier: BSD-3-Clause
"""The main loop the benchmark drivers share (vhostgw-bench fs, tcp and
fs-ring): SIGTERM and SIGHUP taken as Ctrl-C, the rounds with the back-ends
in alternating order, the exit status of a run that stopped, its clean-up,
and the output (--save, --json or the table, then the measurements that
failed).

Python 3 standard library only; it imports none of the drivers (each gives
its own log function and error classes).
"""

import json
import signal
import sys


def catch_signals():
    """SIGTERM and SIGHUP stop the run as Ctrl-C does (KeyboardInterrupt),
    through the driver's clean-up."""
    def on_signal(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)


def rounds(n, kinds, measure, errors, failures, log, order=None):
    """n rounds, each measuring every back-end of kinds, in the order of
    kinds in odd rounds and reversed in even ones (or as order(kinds,
    round) gives it): yields (round, back-end, measure(back-end, round)).
    A measurement that raises one of errors is logged and added to
    failures, and the rounds go on."""
    for rnd in range(1, n + 1):
        this = order(kinds, rnd) if order else (kinds if rnd % 2 else kinds[::-1])
        for kind in this:
            log('round %d: %s' % (rnd, kind))
            try:
                res = measure(kind, rnd)
            except errors as e:
                log('round %d, %s: FAILED: %s' % (rnd, kind, e))
                failures.append(dict(round=rnd, backend=kind, error=str(e)))
                continue
            yield rnd, kind, res


def stopped(e, log):
    """The exit status of a run stopped by e, logged: 130 after Ctrl-C
    (KeyboardInterrupt), 1 after an error."""
    if isinstance(e, KeyboardInterrupt):
        log('interrupted: stopping')
        return 130
    log('error: %s' % e)
    return 1


def cleanup(run, log, hold_sigint=False):
    """The e2e run's clean-up (run None: none was made), with SIGTERM
    ignored from here on (and Ctrl-C during it with hold_sigint); its
    warnings and where its logs are."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if hold_sigint:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    if run is not None:
        for pb in run.cleanup():
            log('warning: %s' % pb)
        log('logs in %s' % run.logdir)
    if hold_sigint:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def output(args, doc, table):
    """The run's document to --save's file, and on stdout as JSON (--json)
    or as table() prints it, then the measurements that failed."""
    if args.save:
        with open(args.save, 'w') as f:
            json.dump(doc, f, indent=1)
    if args.json:
        json.dump(doc, sys.stdout, indent=1)
        print()
        return
    table()
    if doc['failures']:
        print('\nincomplete: %s' % '; '.join('round %d %s: %s' % (
            f['round'], f['backend'], f['error'].splitlines()[0]) for f in doc['failures']))
