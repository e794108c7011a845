#!/bin/bash
# usage: run.sh V MIX RATE N   (V = before|after)
V=$1; MIX=$2; RATE=$3; N=$4
TAG=$V-$MIX-$RATE-run$N
B=/work/target-m-$V/release; WT=/work/wt-m-$V
D=/tmp/arch-m/$TAG; OUT=/tmp/arch-m/$TAG
rm -rf $D; mkdir -p /tmp/arch-m
cd $WT
$B/jpkictl demo --dir $D --ca-listen 127.0.0.1:0 --store-engine journal > $OUT.demo.log 2>&1 & PID=$!
for i in $(seq 1 120); do grep -q "serve until Ctrl-C" $OUT.demo.log 2>/dev/null && break; sleep 0.5; done
grep -q "serve until Ctrl-C" $OUT.demo.log || { echo "demo not ready"; cat $OUT.demo.log; kill -INT $PID; wait $PID; exit 1; }
J=$D/gateway/store.journal
rss() { awk '/VmRSS/{print $2}' /proc/$PID/status; }
echo "date_start $(date -u +%FT%TZ)" > $OUT.meta
echo "loadavg_start $(cat /proc/loadavg)" >> $OUT.meta
echo "journal_before $(stat -c %s $J)" >> $OUT.meta
echo "rss_kb_before $(rss)" >> $OUT.meta
perf stat -x, -e syscalls:sys_enter_fdatasync,syscalls:sys_enter_fsync -p $PID -o $OUT.perf & PP=$!
sleep 0.3
$B/jpki-loadtest --pki $D/gateway/test-pki --server-pid $PID --floor --warmup 2 --duration 10 \
   --mix $MIX=1 --rate $RATE --json /work/main/docs/loadtest/archive/$TAG.json > $OUT.lt.log 2>&1
echo "loadtest_rc $?" >> $OUT.meta
kill -INT $PP; wait $PP
echo "journal_after $(stat -c %s $J)" >> $OUT.meta
echo "rss_kb_after $(rss)" >> $OUT.meta
echo "archive_after $(stat -c %s $D/gateway/audit/archive.redb 2>/dev/null || echo none)" >> $OUT.meta
sleep 6
echo "journal_after6s $(stat -c %s $J)" >> $OUT.meta
echo "rss_kb_after6s $(rss)" >> $OUT.meta
echo "archive_after6s $(stat -c %s $D/gateway/audit/archive.redb 2>/dev/null || echo none)" >> $OUT.meta
echo "loadavg_end $(cat /proc/loadavg)" >> $OUT.meta
echo "date_end $(date -u +%FT%TZ)" >> $OUT.meta
kill -INT $PID; wait $PID; echo "demo_rc $?" >> $OUT.meta
find $D -name '*.redb' -printf '%p %s\n' >> $OUT.meta
cat $OUT.meta; cat $OUT.perf | grep sys_enter
