#!/bin/busybox sh
# SPDX-License-Identifier: BSD-3-Clause
#
# /init of the e2e guest: a busybox-static initramfs built by vgw_e2e.py.
# Everything it does is driven by vgw.* words on the kernel command line:
#
#   vgw.scenario=NAME  the function scenario_NAME below (default: idle)
#   vgw.ip=A/L         address of eth0          vgw.peer=A   host to ping
#   vgw.count=N        pings (ping: 20, pingloop: 0 = forever)
#   vgw.interval=S     pause between pings (pingloop, default 0.2)
#   vgw.wait=N         seconds to wait for the peer to answer (default 90)
#   vgw.mount=TAG      mount virtio-fs TAG on /mnt before the scenario
#   vgw.size=N         MiB served (httpload)   vgw.get=1  download in a loop
#   vgw.sink=md5|null  where the downloads go (httpload, default md5)
#   vgw.calib=N        time N MiB through md5sum and into /dev/null (httpload)
#   vgw.log=NAME vgw.dir=NAME vgw.entries=N vgw.interval_ms=MS  (fsmig)
#   vgw.mac=M vgw.mac2=M vgw.ip2=A/L vgw.peer2=A vgw.md5=S  (netfs: two NICs
#                      found by MAC, a share file to check)
#
# Every line meant for the test starts with "VGW-" and is written to the
# serial console, where the harness reads it (with host timestamps):
#
#   VGW-INIT up=U                 /init started (once per boot: a second one
#                                 means the guest was reset)
#   VGW-ERROR what                something failed; the guest then idles
#   VGW-READY ip=A mac=M up=U     eth0 configured
#   VGW-PEER-UP tries=N up=U      the peer answered a first ping
#   VGW-FS tag=T up=U             virtio-fs TAG mounted on /mnt
#   VGW-FSLS name                 one per entry of /mnt (scenario fsls)
#   VGW-FSLOOP seq=N ok=0|1 lines=L up=U  one append through a held fd and a
#                                 read back (scenario fsloop)
#   VGW-FSMIG seq=N ok=0|1 bytes=B sum=S want=W err=E up=U  one append
#                                 through a held fd and a checksummed read
#                                 back of the whole file (scenario fsmig)
#   VGW-FSMIG-DIR pass=P ok=0|1 entries=K steps=S err=E up=U  one pass over
#                                 a directory held open (scenario fsmig)
#   VGW-ESC label ...             one escape attempt (scenario fsescape)
#   VGW-ESC-SUMMARY attempts=N unexpected=M
#   VGW-PING sent=N recv=M        summary (scenario ping)
#   VGW-PING seq=N ok=0|1 up=U    one line per ping (scenario pingloop)
#   VGW-SERVE md5=M bytes=B up=U  httpd serves /srv/data (scenario httpload)
#   VGW-HTTP-UP tries=N up=U      the peer's httpd answered
#   VGW-GET-START seq=N up=U      one download from the peer begins
#   VGW-GET seq=N rc=R md5=M secs=S klog=K up=U  and ended (K: kernel log
#                                 lines matching virtio|not a head|lockup|
#                                 BUG|Oops|general protection|Kernel panic|
#                                 WARNING so far; M is - with vgw.sink=null)
#   VGW-GET-CHECK rc=R md5=M secs=S klog=K up=U  the download checked by md5
#                                 before the others (vgw.sink=null)
#   VGW-CALIB mib=N md5=S null=S up=U  seconds N MiB from /dev/zero took
#                                 through a pipe into md5sum, and into
#                                 /dev/null (vgw.calib=N)
#   VGW-FSREAD ok=0|1 md5=S       /mnt/host-file read whole (scenario netfs)
#   VGW-NETFS seq=N p1=0|1 p2=0|1 fs=0|1 lines=L up=U  one step: a ping on
#                                 each NIC, an append to /mnt/guest-log
#                                 through a held fd and the line count read
#                                 back (scenario netfs)
#   VGW-DONE rc=N up=U            the scenario function returned
#
# A new scenario is one more scenario_NAME function.

export PATH=/bin
/bin/busybox mkdir -p /proc /sys /dev /tmp /mnt
/bin/busybox mount -t proc proc /proc
/bin/busybox --install -s /bin
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp

exec </dev/console >/dev/console 2>&1

uptime_s() {
	read -r u _ </proc/uptime
	echo "$u"
}

say() {
	echo "VGW-$*"
}

idle() {
	while :; do
		sleep 3600
	done
}

fail() {
	say "ERROR $* up=$(uptime_s)"
	idle
}

say "INIT up=$(uptime_s)"

# vgw.key=value words of the kernel command line become $VGW_key.
for w in $(cat /proc/cmdline); do
	case "$w" in
	vgw.*=*)
		k=${w%%=*}
		k=${k#vgw.}
		case "$k" in
		*[!a-z0-9_]*) fail "bad key $k" ;;
		esac
		eval "VGW_$k=\${w#*=}"
		;;
	esac
done

for m in virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev \
	 virtio_pci failover net_failover virtio_net fuse virtiofs; do
	insmod "/lib/modules/$m.ko" || fail "insmod $m"
done

net_up() {
	i=0
	while [ ! -e /sys/class/net/eth0 ]; do
		i=$((i + 1))
		[ $i -gt 100 ] && fail "no eth0"
		sleep 0.1
	done
	ip link set lo up
	if [ -n "$VGW_ip" ]; then
		ip addr add "$VGW_ip" dev eth0 || fail "ip addr $VGW_ip"
	fi
	ip link set eth0 up || fail "link eth0"
	say "READY ip=${VGW_ip:-none} mac=$(cat /sys/class/net/eth0/address) up=$(uptime_s)"
}

peer_wait() {
	[ -n "$VGW_peer" ] || fail "no vgw.peer"
	n=0
	t0=$(uptime_s)
	t0=${t0%.*}
	while :; do
		n=$((n + 1))
		ping -c 1 -W 1 "$VGW_peer" >/dev/null 2>&1 && break
		t=$(uptime_s)
		[ $((${t%.*} - t0)) -ge "${VGW_wait:-90}" ] &&
			fail "peer $VGW_peer silent after $n tries"
		sleep 0.3
	done
	say "PEER-UP tries=$n up=$(uptime_s)"
}

# Scenario ping: N pings, then one summary line.
scenario_ping() {
	net_up
	peer_wait
	c=${VGW_count:-20}
	out=$(ping -q -c "$c" -i 0.2 -W 2 "$VGW_peer" 2>&1)
	sent=$(echo "$out" | sed -n 's/^\([0-9]*\) packets transmitted.*/\1/p')
	recv=$(echo "$out" | sed -n 's/.* \([0-9]*\) packets received.*/\1/p')
	say "PING sent=${sent:-0} recv=${recv:-0}"
	[ "${recv:-0}" -gt 0 ]
}

# Scenario pingloop: one line per ping, for stop/cont, reconnect, migration.
scenario_pingloop() {
	net_up
	peer_wait
	c=${VGW_count:-0}
	s=0
	while [ "$c" -eq 0 ] || [ $s -lt "$c" ]; do
		s=$((s + 1))
		if ping -c 1 -W 1 "$VGW_peer" >/dev/null 2>&1; then
			ok=1
		else
			ok=0
		fi
		say "PING seq=$s ok=$ok up=$(uptime_s)"
		sleep "${VGW_interval:-0.2}"
	done
}

# The interface with MAC $1 (lowercase), configured with address $2: $NIC.
nic_by_mac() {
	i=0
	while :; do
		for d in /sys/class/net/eth*; do
			[ "$(cat "$d/address" 2>/dev/null)" = "$1" ] || continue
			n=${d##*/}
			ip addr add "$2" dev "$n" || fail "ip addr $2 dev $n"
			ip link set "$n" up || fail "link $n"
			NIC=$n
			return 0
		done
		i=$((i + 1))
		[ $i -gt 100 ] && fail "no interface with MAC $1"
		sleep 0.1
	done
}

# Scenario netfs: two NICs (vgw.mac/vgw.ip/vgw.peer, vgw.mac2/vgw.ip2/
# vgw.peer2) and a virtio-fs mount (vgw.mount). /mnt/host-file must have
# md5 vgw.md5; then, forever, one step each vgw.interval seconds: a ping on
# each NIC, a line appended to /mnt/guest-log through one descriptor held
# open, the line count read back through the mount.
scenario_netfs() {
	ip link set lo up
	nic_by_mac "$VGW_mac" "$VGW_ip"
	n1=$NIC
	nic_by_mac "$VGW_mac2" "$VGW_ip2"
	n2=$NIC
	say "READY ip=$VGW_ip nic=$n1 ip2=$VGW_ip2 nic2=$n2 up=$(uptime_s)"
	peer_wait
	m=$(md5sum /mnt/host-file 2>/dev/null)
	m=${m%% *}
	[ "$m" = "$VGW_md5" ] && ok=1 || ok=0
	say "FSREAD ok=$ok md5=${m:-none}"
	exec 3>>/mnt/guest-log || fail "open /mnt/guest-log"
	s=0
	while :; do
		s=$((s + 1))
		ping -c 1 -W 1 "$VGW_peer" >/dev/null 2>&1 && p1=1 || p1=0
		ping -c 1 -W 1 "$VGW_peer2" >/dev/null 2>&1 && p2=1 || p2=0
		echo "seq=$s" >&3 && n=$(wc -l </mnt/guest-log) && [ "$n" -eq "$s" ] && f=1 || f=0
		say "NETFS seq=$s p1=$p1 p2=$p2 fs=$f lines=${n:-0} up=$(uptime_s)"
		sleep "${VGW_interval:-0.2}"
	done
}

# Scenario httpload: bulk TCP both ways, every byte checked. Serve
# vgw.size MiB of random data as http://IP/data (busybox httpd; wget and
# httpd move data intact, busybox nc was seen to lose some), print its md5;
# with vgw.get=1 download the peer's /data in a loop (vgw.count times, or
# forever), one GET line with the md5 of each transfer, computed as the
# bytes arrive (nothing written in the guest, so transfers follow each other
# closely). For migration under load: the host compares each md5 with the
# peer's SERVE line.
#
# vgw.sink=null (for benchmarks: the md5 of every byte is most of the
# client's CPU under TCG): one download checked by md5 first (GET-CHECK),
# then the loop's downloads into /dev/null (wget fails on a body shorter
# than its Content-Length), md5=- on their GET lines. vgw.calib=N: before
# the downloads, time N MiB of /dev/zero through a pipe into md5sum and
# straight into /dev/null (what md5sum costs this guest, no network).
httpload_get() {
	t0=$(uptime_s)
	[ -n "$1" ] && say "GET-START seq=$1 up=$t0"
	if [ "$2" = null ]; then
		timeout 100 wget -q -O /dev/null "http://$VGW_peer/data"
		rc=$?
		m=-
	else
		m=$(timeout 100 wget -q -O - "http://$VGW_peer/data" | md5sum)
		rc=$?
	fi
	t1=$(uptime_s)
	k=$(dmesg | grep -c -E 'virtio|not a head|soft lockup|BUG|Oops|general protection|Kernel panic|WARNING')
	r="rc=$rc md5=${m%% *} secs=$(awk "BEGIN { print $t1 - $t0 }") klog=$k up=$t1"
}

httpload_calib() {
	n=$((VGW_calib * 16))
	t0=$(uptime_s)
	dd if=/dev/zero bs=64k count=$n 2>/dev/null | md5sum >/dev/null || fail "calib md5sum"
	t1=$(uptime_s)
	dd if=/dev/zero of=/dev/null bs=64k count=$n 2>/dev/null || fail "calib dd"
	t2=$(uptime_s)
	say "CALIB mib=$VGW_calib md5=$(awk "BEGIN { print $t1 - $t0 }") null=$(awk "BEGIN { print $t2 - $t1 }") up=$t2"
}

scenario_httpload() {
	net_up
	mkdir -p /srv
	dd if=/dev/urandom of=/srv/data bs=1M count="${VGW_size:-32}" 2>/dev/null || fail "dd"
	set -- $(md5sum /srv/data)
	say "SERVE md5=$1 bytes=$(stat -c %s /srv/data) up=$(uptime_s)"
	httpd -p 80 -h /srv || fail "httpd"
	[ "${VGW_get:-0}" = 1 ] || return 0
	peer_wait
	n=0
	until timeout 5 wget -q --spider "http://$VGW_peer/data" 2>/dev/null; do
		n=$((n + 1))
		[ $n -gt 300 ] && fail "no httpd on $VGW_peer"
		sleep 0.3
	done
	say "HTTP-UP tries=$n up=$(uptime_s)"
	set -o pipefail
	[ -n "$VGW_calib" ] && httpload_calib
	case "${VGW_sink:=md5}" in
	md5) ;;
	null)
		httpload_get "" md5
		say "GET-CHECK $r"
		;;
	*) fail "bad vgw.sink $VGW_sink" ;;
	esac
	s=0
	while [ -z "$VGW_count" ] || [ $s -lt "$VGW_count" ]; do
		s=$((s + 1))
		httpload_get $s "$VGW_sink"
		say "GET seq=$s $r"
	done
}

# Scenario idle: network up, nothing else (the peer of another guest).
scenario_idle() {
	net_up
}

# Scenario fsls: list the virtio-fs mount (vgw.mount=TAG) and write a file.
scenario_fsls() {
	for f in /mnt/*; do
		[ -e "$f" ] && say "FSLS ${f#/mnt/}"
	done
	echo "written by the guest" >/mnt/from-guest || fail "write /mnt/from-guest"
	sync
}

# Scenario fsloop: through one file descriptor held open the whole time,
# append a numbered line to /mnt/log and read the line count back through
# the mount, one per step (for stop/cont of a guest with a virtio-fs mount).
scenario_fsloop() {
	exec 3>>/mnt/log || fail "open /mnt/log"
	s=0
	while :; do
		s=$((s + 1))
		echo "seq=$s" >&3 && n=$(wc -l </mnt/log) && [ "$n" -eq "$s" ] && ok=1 || ok=0
		say "FSLOOP seq=$s ok=$ok lines=${n:-0} up=$(uptime_s)"
		sleep "${VGW_interval:-0.2}"
	done
}

# Scenario fsmig: /bin/vgw-fsmig (tests/e2e/vgw-fsmig.c, added to the
# initramfs by the fs_migrate scenarios) on the virtio-fs mount: appends to
# /mnt/vgw.log (default log) through one descriptor held open, reads the
# whole file back through another and checks size and checksum, and
# iterates /mnt/vgw.dir (default dir, vgw.entries files, default 200)
# through a third, a few entries per step, every vgw.interval_ms (default
# 100) milliseconds, for live migration of the mount.
scenario_fsmig() {
	fm=/bin/vgw-fsmig
	[ -f $fm ] || fail "no $fm in the initramfs"
	chmod 755 $fm
	$fm "/mnt/${VGW_log:-log}" "/mnt/${VGW_dir:-dir}" "${VGW_entries:-200}" \
		"${VGW_interval_ms:-100}" || fail "vgw-fsmig exited with status $?"
}

# Scenario fsonce: vgw.count rounds of operations that must not be done
# twice (mkdir, create, link, symlink, rename, chmod, unlink, rmdir) on the
# mount, each checked: a line per failure, one at the end.
fsonce_try() {
	op=$1
	shift
	"$@" || { say "FSONCE-FAIL op=$op i=$i"; f=$((f + 1)); }
}

scenario_fsonce() {
	n=${VGW_count:-40}
	f=0
	i=0
	while [ $i -lt "$n" ]; do
		i=$((i + 1))
		d=/mnt/d$i
		fsonce_try mkdir mkdir $d
		fsonce_try create sh -c "echo r$i >$d/f"
		fsonce_try link ln $d/f $d/h
		fsonce_try symlink ln -s f $d/s
		fsonce_try rename mv $d/f $d/g
		fsonce_try setattr chmod 600 $d/g
		fsonce_try unlink rm $d/h
		fsonce_try unlink rm $d/s
		fsonce_try mkdir mkdir $d/e
		fsonce_try rmdir rmdir $d/e
	done
	say "FSONCE done=$i fails=$f up=$(uptime_s)"
}

# Scenario fsops: file operations on the virtio-fs mount, each checked in
# the guest; the test checks their effects on the host too.
scenario_fsops() {
	n=${VGW_files:-1000}
	dd if=/dev/urandom of=/tmp/src bs=65536 count=64 2>/dev/null || fail "dd"
	cp /tmp/src /mnt/data || fail "write /mnt/data"
	sync
	echo 3 >/proc/sys/vm/drop_caches
	set -- $(md5sum /tmp/src)
	src=$1
	set -- $(md5sum /mnt/data)
	[ "$1" = "$src" ] || fail "read back /mnt/data: md5 $1, wrote $src"
	say "FS md5=$src"
	mkdir /mnt/d1 || fail "mkdir"
	mv /mnt/d1 /mnt/d2 || fail "rename"
	echo hello >/mnt/d2/f || fail "create"
	ln /mnt/d2/f /mnt/d2/hard || fail "link"
	ln -s f /mnt/d2/sym || fail "symlink"
	[ "$(cat /mnt/d2/sym)" = hello ] || fail "read through symlink"
	chmod 640 /mnt/d2/f || fail "chmod"
	truncate -s 3 /mnt/d2/hard || fail "truncate"
	[ "$(cat /mnt/d2/f)" = hel ] || fail "truncate via hard link: $(cat /mnt/d2/f)"
	rm /mnt/d2/hard || fail "unlink"
	mkdir /mnt/d3 && rmdir /mnt/d3 || fail "rmdir"
	mkdir /mnt/many || fail "mkdir many"
	i=0
	while [ $i -lt "$n" ]; do
		: >/mnt/many/f$i || fail "create many/f$i"
		i=$((i + 1))
	done
	c=$(ls /mnt/many | wc -l)
	[ "$c" -eq "$n" ] || fail "readdir of many: $c entries, created $n"
	say "FS readdir=$c"
	[ "$(cat /mnt/from-host)" = "written on the host" ] || fail "host file: $(cat /mnt/from-host)"
	(echo a >/mnt/conc1 & echo b >/mnt/conc2 & wait) || fail "concurrent writers"
	say "FS ops=ok"
	sync
}

# Scenario fsescape: from inside the guest, try to reach what the host keeps
# next to the virtio-fs share (vgw.mount=TAG). test_fs_escape.py prepared in
# the share: out -> the absolute path of a secret directory outside the
# share, rel -> ../<that directory>, procroot -> /proc/self/root, fsym -> the
# secret file, the chain chain1 -> sub/chain2 -> ../chain3 -> out's target,
# sub/up -> ../../<secret directory>, passwd -> /etc/passwd, loop1 <-> loop2,
# rmme -> the secret directory, a FIFO hostfifo, files inside and somefile,
# and inlink -> inlink2 -> inside. The guest kernel resolves symlinks itself,
# so reads and creations through them must fail (or reach the guest's own
# files), while operations on the links themselves (lstat, readlink, lchown,
# touch -h, hard link, rename, unlink) must reach the gateway and change the
# link, never its target. Each attempt prints one line
#   VGW-ESC LABEL want=ok|fail|eperm rc=N ok|UNEXPECTED out=OUTPUT
# (newlines of OUTPUT as "|"), each directory that must be the guest's own
# root one line "VGW-ESC-LS LABEL same=0|1 NAMES", the last one
# "VGW-ESC-SUMMARY attempts=N unexpected=M". On "VGW-ESC-WAIT NAME" the
# guest waits for the host to create /mnt/.vgw-go-NAME (the host reads the
# gateway's counters meanwhile).
esc_n=0
esc_bad=0

# esc_try ok|fail|eperm LABEL CMD...: run CMD, print its status and output;
# eperm: fails with "Operation not permitted"
esc_try() {
	want=$1
	label=$2
	shift 2
	out=$("$@" 2>&1)
	rc=$?
	v=ok
	case "$want:$rc" in
	ok:0 | fail:[1-9]*) ;;
	eperm:[1-9]*)
		case "$out" in
		*"Operation not permitted"*) ;;
		*) v=UNEXPECTED ;;
		esac
		;;
	*) v=UNEXPECTED ;;
	esac
	esc_n=$((esc_n + 1))
	[ $v = ok ] || esc_bad=$((esc_bad + 1))
	say "ESC $label want=$want rc=$rc $v out=$(echo "$out" | tr '\n' '|')"
}

# esc_root LABEL DIR: DIR, listed and entered (cd -P), is the guest's own /
esc_root() {
	a=$(ls -a "$2" 2>&1; cd -P "$2" 2>&1 && pwd -P && ls -a)
	b=$(ls -a /; cd -P / && pwd -P && ls -a)
	same=0
	[ "$a" = "$b" ] && same=1
	esc_n=$((esc_n + 1))
	[ $same = 1 ] || esc_bad=$((esc_bad + 1))
	say "ESC-LS $1 same=$same "$a
}

# a symlink seen as itself: its type, and its size the length of its target
esc_islink() {
	t=$(readlink "$1") || return 1
	stat -c '%F %s' "$1" && echo "$t"
	[ "$(stat -c %F "$1")" = "symbolic link" ] && [ "$(stat -c %s "$1")" = ${#t} ]
}

# wait for the host to create /mnt/.vgw-go-NAME, polled by listing /mnt
# (no failed lookups: the host reads the gateway's error counter meanwhile)
esc_wait() {
	say "ESC-WAIT $1"
	i=0
	while :; do
		for f in /mnt/.vgw-go-*; do
			[ "$f" = "/mnt/.vgw-go-$1" ] && return 0
		done
		i=$((i + 1))
		[ $i -gt 1200 ] && fail "no /mnt/.vgw-go-$1 from the host"
		sleep 0.05
	done
}

scenario_fsescape() {
	# the host path of the secret directory (lstat-out below checks the link)
	s=$(readlink /mnt/out)
	# controls: content inside the share is read, directly and via a chain
	esc_try ok read-inside cat /mnt/inside
	esc_try ok read-inchain cat /mnt/inlink
	esc_try ok list-share ls -a /mnt
	for l in out rel procroot fsym chain1 sub/chain2 chain3 sub/up passwd loop1 rmme; do
		esc_try ok "lstat-$l" esc_islink "/mnt/$l"
	done
	# reads through the links and through ..
	esc_try fail read-out cat /mnt/out/secret
	esc_try fail read-rel cat /mnt/rel/secret
	esc_try fail read-fsym cat /mnt/fsym
	esc_try fail read-chain cat /mnt/chain1/secret
	esc_try fail read-subup cat /mnt/sub/up/secret
	esc_try fail read-procroot cat "/mnt/procroot$s/secret"
	esc_try fail read-dotdot cat "/mnt/../..$s/secret"
	esc_try fail read-subdotdot cat "/mnt/sub/../..$s/secret"
	esc_try fail read-abs cat "$s/secret"
	esc_try fail read-passwd cat /mnt/passwd
	esc_try fail read-loop cat /mnt/loop1
	esc_try fail list-out ls -la /mnt/out/
	esc_try fail list-rel ls -la /mnt/rel/
	esc_try fail list-chain ls -la /mnt/chain1/
	esc_root dotdot /mnt/..
	esc_root dotdot2 /mnt/../..
	esc_root subdotdot /mnt/sub/../..
	esc_root procroot /mnt/procroot/
	# creations through the links and through ..
	esc_try fail write-out sh -c 'echo x >/mnt/out/pwned'
	esc_try fail write-rel sh -c 'echo x >/mnt/rel/pwned'
	esc_try fail write-chain sh -c 'echo x >/mnt/chain1/pwned'
	esc_try fail write-fsym sh -c 'echo x >>/mnt/fsym'
	esc_try fail mkdir-out mkdir /mnt/out/pwned
	esc_try fail mkdir-rel mkdir /mnt/rel/pwned
	esc_try fail hardlink-out ln /mnt/out/secret /mnt/hard
	esc_try fail hardlink-abs ln "$s/secret" /mnt/hard
	esc_try fail mv-into-out mv /mnt/somefile /mnt/out/
	esc_try fail mv-into-rel mv /mnt/somefile /mnt/rel/pwned
	esc_try fail ln-dotdot ln /mnt/inside /mnt/../vgw-e2e-pwned
	esc_try fail chmod-out chmod 777 /mnt/out
	esc_try fail chown-out chown 4242 /mnt/out
	esc_try fail rm-through-out rm -r /mnt/out/secret
	# a rename out of the mount is a copy into the guest's own root
	esc_try ok mv-dotdot mv /mnt/somefile /mnt/../vgw-e2e-pwned
	esc_try ok mv-dotdot-in-guest test -f /vgw-e2e-pwned -a ! -e /mnt/somefile
	esc_try ok write-procroot sh -c 'echo x >/mnt/procroot/vgw-e2e-pwned2'
	esc_try ok write-procroot-in-guest test -f /vgw-e2e-pwned2
	esc_try ok symlink-dotdot ln -s ../../../../etc/passwd /mnt/dotdot
	esc_try fail read-symlink-dotdot cat /mnt/dotdot
	# names with dots in them are names
	esc_try ok mkdir-dots mkdir /mnt/...
	esc_try ok create-dots sh -c 'echo dots >/mnt/..x'
	esc_try ok rename-dots mv /mnt/..x /mnt/x..
	esc_try ok link-dots ln /mnt/x.. /mnt/a..b
	esc_try ok rename-dots2 mv /mnt/a..b /mnt/.../..c..
	# operations on the links themselves: the link changes, not its target
	esc_try ok touch-h-fsym touch -h /mnt/fsym
	esc_try ok chown-h-fsym chown -h 4242:4243 /mnt/fsym
	esc_try ok chown-h-out chown -h 4242:4243 /mnt/out
	esc_try ok hardlink-fsym ln /mnt/fsym /mnt/hardf
	esc_try ok hardlink-outlink ln /mnt/out /mnt/hardout
	esc_try ok rename-link mv /mnt/chain3 /mnt/chain3moved
	esc_try ok rm-link rm -rf /mnt/rmme
	# device nodes are refused by the gateway, FIFOs are made (and then
	# are the guest's); the host reads the gateway's error counter around
	# two of each
	esc_wait fifos
	esc_try ok mknod-fifo mknod /mnt/fifo p
	esc_try ok mknod-fifo2 mknod /mnt/fifo2 p
	esc_wait devices
	esc_try eperm mknod-chr mknod /mnt/chr c 1 3
	esc_try eperm mknod-blk mknod /mnt/blk b 8 0
	esc_wait devices-done
	esc_try ok no-chr test ! -e /mnt/chr -a ! -e /mnt/blk
	esc_try ok fifo-roundtrip timeout 10 sh -c \
		'(echo via-fifo >/mnt/fifo &); read -r l </mnt/fifo; echo "$l"; [ "$l" = via-fifo ]'
	esc_try ok hostfifo-roundtrip timeout 10 sh -c \
		'(echo via-hostfifo >/mnt/hostfifo &); read -r l </mnt/hostfifo; echo "$l"; [ "$l" = via-hostfifo ]'
	esc_try ok fifo-attrs sh -c 'ls -l /mnt/fifo /mnt/hostfifo && chmod 600 /mnt/fifo && touch /mnt/fifo /mnt/hostfifo'
	# the share still works both ways
	esc_try ok read-inside-after cat /mnt/inside
	esc_try ok write-after sh -c 'echo "written after the escape attempts" >/mnt/after && sync'
	say "ESC-SUMMARY attempts=$esc_n unexpected=$esc_bad"
	[ $esc_bad -eq 0 ]
}

# Scenario fsbench: the workloads of usertools/vhostgw-bench fs on the
# virtio-fs mount (vgw.mount=TAG): vgw.size MiB written and read back with
# dd bs=1M, vgw.seconds of 4 KiB random reads of a vgw.randsize MiB file
# (vgw.randmode buffered|direct), create/stat/unlink of vgw.files files; the
# last two by /bin/vgw-fsbench, which the benchmark builds and adds to the
# initramfs. First, phase cpu: vgw.cpumib MiB from /dev/zero to /dev/null,
# the guest's own speed while the back-end runs. Before each phase the guest
# syncs, drops its caches, prints "VGW-BENCH-WAIT NAME" and waits for the
# host to create /mnt/.vgw-go-NAME (the host flushes the share and reads its
# counters meanwhile); the phase is bracketed by "VGW-BENCH-T NAME.begin
# up=U" / "NAME.end up=U", which the host times by their arrival, and those
# by "VGW-BENCH-IRQ NAME.begin|end n=N": interrupts of the virtio devices.
scenario_fsbench() {
	fb=/bin/vgw-fsbench
	[ -f $fb ] || fail "no $fb in the initramfs"
	chmod 755 $fb
	sz=${VGW_size:-256}
	# interrupts of the virtio devices so far (outside the timed windows)
	fsbench_irq() {
		say "BENCH-IRQ $1 n=$(awk '/virtio/ { for (i = 2; i <= NF && $i ~ /^[0-9]+$/; i++) n += $i }
			END { print n + 0 }' /proc/interrupts)"
	}
	fsbench_go() {
		sync
		echo 3 >/proc/sys/vm/drop_caches
		say "BENCH-WAIT $1"
		i=0
		while [ ! -e "/mnt/.vgw-go-$1" ]; do
			i=$((i + 1))
			[ $i -gt 1200 ] && fail "no /mnt/.vgw-go-$1 from the host"
			sleep 0.05
		done
	}
	# one timed phase: wait for the host's go, then run the command between
	# the interrupt counts and the begin/end lines
	fsbench_phase() {
		ph=$1
		shift
		fsbench_go "$ph"
		fsbench_irq "$ph.begin"
		read -r u _ </proc/uptime
		say "BENCH-T $ph.begin up=$u"
		"$@" || fail "$ph: $*"
		read -r u _ </proc/uptime
		say "BENCH-T $ph.end up=$u"
		fsbench_irq "$ph.end"
	}
	# the guest's own speed with this back-end running: no file system
	fsbench_phase cpu dd if=/dev/zero of=/dev/null bs=1M count="${VGW_cpumib:-2048}"
	fsbench_phase write dd if=/dev/zero of=/mnt/seq bs=1M count="$sz"
	fsbench_phase read dd if=/mnt/seq of=/dev/null bs=1M
	rm -f /mnt/seq
	dd if=/dev/zero of=/mnt/rand bs=1M count="${VGW_randsize:-64}" 2>/dev/null ||
		fail "dd rand"
	fsbench_go randread
	$fb randread /mnt/rand "${VGW_seconds:-10}" "${VGW_randmode:-buffered}" ||
		fail "vgw-fsbench randread"
	rm -f /mnt/rand
	$fb meta /mnt/meta "${VGW_files:-2000}" /mnt/.vgw-go- || fail "vgw-fsbench meta"
	sync
}

if [ -n "$VGW_mount" ]; then
	mount -t virtiofs "$VGW_mount" /mnt || fail "mount virtiofs $VGW_mount"
	say "FS tag=$VGW_mount up=$(uptime_s)"
fi

sc=${VGW_scenario:-idle}
type "scenario_$sc" >/dev/null 2>&1 || fail "unknown scenario $sc"
"scenario_$sc"
say "DONE rc=$? up=$(uptime_s)"
idle
