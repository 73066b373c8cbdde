#!/usr/bin/env python3
"""package: the Debian package usertools/vhostgw-mkdeb makes of this build
tree, installed into this machine's / with dpkg and purged again.

vhostgw-mkdeb builds the .deb (from a /usr tree of its own when this one
has another prefix); lintian finds no error or warning in it; its control
file has the version of meson.build and the runtime dependencies. dpkg -i
installs it: the programs, the manual pages, the unit and the sample
configuration (a conffile) are where they belong; the installed vhostgw
accepts the sample (--check-config); vhostgw, vhostgw-keeper and
vhostgw-ctl print the version (as they do from the build and source
trees); man finds the pages; systemd-analyze
verifies the unit (when systemd is installed); the installed keeper runs
the installed gateway, which serves its devices and stops cleanly.
dpkg --purge removes every file again, also when a step failed.

A vhostgw package left installed by an earlier run that died is purged
first (and said so). The machine lock also keeps two runs from installing
at once.

  python3 test_package.py VHOSTGW VHOSTGW_KEEPER BUILD_DIR VERSION
                                                      exit 0 on success
"""
import os
import re
import shutil
import subprocess
import sys

import vgwtest as t

USERTOOLS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "usertools")
MKDEB = os.path.join(USERTOOLS, "vhostgw-mkdeb")
PROGRAMS = ["/usr/bin/vhostgw", "/usr/bin/vhostgw-keeper", "/usr/bin/vhostgw-ctl",
            "/usr/bin/vhostgw-top", "/usr/bin/vhostgw-exporter"]
MAN_PAGES = ["/usr/share/man/man8/vhostgw.8.gz", "/usr/share/man/man8/vhostgw-ctl.8.gz",
             "/usr/share/man/man8/vhostgw-keeper.8.gz", "/usr/share/man/man8/vhostgw-top.8.gz",
             "/usr/share/man/man8/vhostgw-exporter.8.gz",
             "/usr/share/man/man5/vhostgw.json.5.gz"]
UNIT = "/lib/systemd/system/vhostgw.service"
CONFIG = "/etc/vhostgw/vhostgw.json"
DOCS = ["/usr/share/doc/vhostgw/copyright", "/usr/share/doc/vhostgw/changelog.gz"]
FILES = PROGRAMS + MAN_PAGES + [UNIT, CONFIG] + DOCS
ENV = dict(os.environ, DEBIAN_FRONTEND="noninteractive", LC_ALL="C.UTF-8")


def sh(argv, **kw):
    """Run a command; (exit status, stdout and stderr together)."""
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       env=kw.pop("env", ENV), **kw)
    return r.returncode, r.stdout


def package_status():
    """dpkg's status of the vhostgw package, "" when dpkg does not know it."""
    rc, out = sh(["dpkg-query", "-W", "-f=${db:Status-Abbrev}", "vhostgw"])
    return out.strip() if rc == 0 else ""


def purge(why):
    rc, out = sh(["dpkg", "--purge", "vhostgw"])
    t.log(f"dpkg --purge vhostgw ({why}): exit {rc}")
    return rc, out


def check_versions(argvs, version):
    """Each program prints "NAME VERSION", one line, exit 0."""
    for name, argv in argvs:
        rc, out = sh(argv + ["--version"], cwd="/")
        t.log(f"{' '.join(argv)} --version: {out.strip()}")
        t.check(rc == 0 and out == f"{name} {version}\n",
                f"{' '.join(argv)} --version: exit {rc}, {out!r}, expected '{name} {version}'")


def build_package(build_dir, version, wd):
    rc, out = sh([sys.executable, MKDEB, "--build-dir", build_dir, "--out", wd,
                  "--no-lintian"])
    t.check(rc == 0, f"vhostgw-mkdeb failed (exit {rc}):\n{out[-4000:]}")
    for line in out.splitlines()[:-1]:
        t.log(line)
    deb = out.splitlines()[-1]
    arch = sh(["dpkg", "--print-architecture"])[1].strip()
    t.check(deb == os.path.join(wd, f"vhostgw_{version}_{arch}.deb") and os.path.isfile(deb),
            f"vhostgw-mkdeb's last line is not the package: {deb!r}")
    return deb


def check_control(deb, version):
    rc, out = sh(["dpkg-deb", "--field", deb, "Package", "Version", "Depends"])
    t.check(rc == 0, f"dpkg-deb --field {deb}: exit {rc}:\n{out}")
    fields = dict(re.findall(r"^(\w+): (.*)$", out, re.M))
    t.log(f"control: Version {fields.get('Version')}; Depends {fields.get('Depends')}")
    t.check(fields.get("Package") == "vhostgw", f"Package: {fields.get('Package')!r}")
    t.check(fields.get("Version") == version,
            f"Version {fields.get('Version')!r}, meson.build says {version!r}")
    deps = [d.split()[0] for d in fields.get("Depends", "").split(",") if d.strip()]
    for want in ("libc6", "libjansson4", "liburing2", "python3"):
        t.check(want in deps, f"Depends lacks {want}: {fields.get('Depends')}")
    for lib in ("librte-eal", "librte-vhost"):
        t.check(any(d.startswith(lib) for d in deps),
                f"Depends lacks {lib}*: {fields.get('Depends')}")
    rc, members = sh(["sh", "-c", f"dpkg-deb --ctrl-tarfile '{deb}' | tar -t"])
    t.check("./conffiles" in members.split(), f"no conffiles in the package:\n{members}")


def check_lintian(deb):
    lintian = shutil.which("lintian")
    t.check(lintian is not None,
            "lintian is not installed (usertools/vhostgw-setup deps installs it)")
    rc, out = sh([lintian, "--fail-on", "error,warning", deb])
    out = "\n".join(line for line in out.splitlines()
                    if "running with root privileges" not in line)
    t.log(f"lintian: exit {rc}" + (f":\n{out}" if out.strip() else ", nothing to say"))
    t.check(rc == 0, f"lintian found errors or warnings in the package:\n{out}")


def check_installed(version):
    missing = [f for f in FILES if not os.path.isfile(f)]
    t.check(not missing, f"not installed: {missing}")
    for p in PROGRAMS:
        t.check(os.access(p, os.X_OK), f"{p} is not executable")
    rc, out = sh(["dpkg", "-L", "vhostgw"])
    listed = set(out.split())
    t.check(all(f in listed for f in FILES), f"dpkg -L vhostgw lacks "
            f"{[f for f in FILES if f not in listed]}")
    rc, out = sh(["dpkg-query", "-W", "-f=${Conffiles}", "vhostgw"])
    t.check(CONFIG in out, f"{CONFIG} is not a conffile: {out.strip()!r}")
    rc, out = sh(["ldd", "/usr/bin/vhostgw"])
    t.check(rc == 0 and "not found" not in out, f"ldd /usr/bin/vhostgw:\n{out}")

    rc, out = sh(["/usr/bin/vhostgw", "--check-config", "--config", CONFIG], cwd="/")
    t.log(f"/usr/bin/vhostgw --check-config --config {CONFIG}: exit {rc}: {out.strip()}")
    t.check(rc == 0 and "configuration OK" in out,
            f"the installed vhostgw refuses the sample configuration (exit {rc}):\n{out}")
    check_versions([(p, [f"/usr/bin/{p}"]) for p in ("vhostgw", "vhostgw-keeper",
                                                      "vhostgw-ctl")], version)
    with open("/usr/bin/vhostgw-ctl") as f:
        first = f.readline().strip()
    t.check(first == "#!/usr/bin/python3", f"vhostgw-ctl's interpreter line: {first}")

    for page in (["vhostgw"], ["vhostgw-ctl"], ["vhostgw-keeper"], ["5", "vhostgw.json"]):
        rc, out = sh(["man", "-w"] + page)
        t.check(rc == 0 and out.strip() in MAN_PAGES,
                f"man -w {' '.join(page)}: exit {rc}, {out.strip()!r}")
    rc, out = sh(["man", "-P", "cat", "vhostgw"], env=dict(ENV, MANWIDTH="80"))
    t.check(rc == 0 and "--check-config" in out and version in out,
            f"man vhostgw: exit {rc}:\n{out[:2000]}")

    with open(UNIT) as f:
        unit = f.read()
    exec_start = re.search(r"^ExecStart=(.*)$", unit, re.M)
    t.check(exec_start is not None, f"{UNIT} has no ExecStart")
    t.log(f"{UNIT}: ExecStart={exec_start.group(1)}")
    argv = exec_start.group(1).split()
    t.check(argv[0] == "/usr/bin/vhostgw-keeper" and "/usr/bin/vhostgw" in argv
            and argv[-2:] == ["--config", CONFIG],
            f"ExecStart does not run /usr/bin/vhostgw under /usr/bin/vhostgw-keeper "
            f"with {CONFIG}: {exec_start.group(1)}")
    if shutil.which("systemd-analyze"):
        rc, out = sh(["systemd-analyze", "verify", UNIT])
        t.log(f"systemd-analyze verify {UNIT}: exit {rc}" + (f":\n{out}" if out else ""))
        t.check(rc == 0 and not out.strip(), f"systemd-analyze verify {UNIT}:\n{out}")
    else:
        t.log("systemd-analyze not installed: the unit was not verified")


def run_installed(wd):
    """The installed keeper and gateway: both devices, a clean stop."""
    cfg = {"runtime_dir": wd,
           "devices": [{"name": "net0", "type": "net", "socket": os.path.join(wd, "net0.sock")},
                       {"name": "net1", "type": "net", "socket": os.path.join(wd, "net1.sock")}],
           "links": [{"xconnect": ["net0", "net1"]}]}
    gw = t.Keeper("/usr/bin/vhostgw-keeper", "/usr/bin/vhostgw", wd, cfg, mem=128).start()
    names = sorted(d["name"] for d in gw.ctl("devices")["devices"])
    t.check(names == ["net0", "net1"], f"the installed gateway serves {names}")
    keeper = gw.ctl("keeper")["keeper"]
    t.check(keeper is not None and keeper["pid"] == gw.proc.pid,
            f"the installed gateway's keeper: {keeper}, expected pid {gw.proc.pid}")
    rc, out = sh(["/usr/bin/vhostgw-ctl", "-s", gw.ctl_path, "devices"])
    t.check(rc == 0 and "net0" in out and "net1" in out,
            f"installed vhostgw-ctl devices: exit {rc}:\n{out}")
    gw.stop()
    t.log("the installed vhostgw-keeper and vhostgw served net0 and net1 and stopped cleanly")


def main():
    binary, keeper = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    build_dir, version = os.path.abspath(sys.argv[3]), sys.argv[4]
    for tool in ("dpkg", "dpkg-deb", "dpkg-query", "man"):
        t.check(shutil.which(tool) is not None, f"{tool} not found "
                f"(usertools/vhostgw-setup deps installs it)")
    wd = t.workdir("package")
    status = package_status()
    if status and not status.startswith("un"):
        t.log(f"a vhostgw package is left from an earlier run (dpkg status {status!r}): "
              f"purging it first")
        rc, out = purge("left from an earlier run")
        t.check(rc == 0, f"cannot purge the vhostgw package left installed:\n{out}")
    present = [f for f in FILES if os.path.lexists(f)]
    t.check(not present, f"{present} exist and belong to no vhostgw package (a meson "
            f"install into /usr?): not overwriting them")

    # the build and source trees' programs first
    check_versions([("vhostgw", [binary]), ("vhostgw-keeper", [keeper]),
                    ("vhostgw-ctl", [sys.executable, os.path.join(USERTOOLS, "vhostgw-ctl")])],
                   version)
    deb = build_package(build_dir, version, wd)
    check_control(deb, version)
    check_lintian(deb)

    failed = None
    try:
        rc, out = sh(["dpkg", "-i", deb])
        t.check(rc == 0, f"dpkg -i {deb}: exit {rc}:\n{out}")
        t.log(f"dpkg -i {os.path.basename(deb)}: installed")
        check_installed(version)
        run_installed(wd)
    except BaseException as e:
        failed = e
        raise
    finally:
        rc, out = purge("the end of the test" + (", after a failure" if failed else ""))
        if failed is None:
            t.check(rc == 0, f"dpkg --purge vhostgw: exit {rc}:\n{out}")
        elif rc != 0:
            t.log(f"dpkg --purge vhostgw failed too:\n{out}")
    left = [f for f in FILES + ["/etc/vhostgw"] if os.path.lexists(f)]
    t.check(not left, f"left after dpkg --purge: {left}")
    t.check(package_status() in ("", "un"), f"dpkg still knows vhostgw: "
            f"{package_status()!r}")
    t.log("purged: no file of the package is left")


if __name__ == "__main__":
    t.run(main)
