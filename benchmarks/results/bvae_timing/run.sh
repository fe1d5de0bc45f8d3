#!/bin/bash
# the two commands of issue 13 as written, each under /usr/bin/time (wall and CPU), load noted
cd /work/wt-bvae
PY=/work/main/.venv/bin/python
OUT=/tmp/bvae_timing
which=$1
if [ "$which" = camel ]; then
  { date -u +%FT%TZ; uptime; git rev-parse HEAD; } > $OUT/camel.meta
  PYTHONPATH=$PWD /usr/bin/time -f "wall_s %e user_s %U sys_s %S maxrss_kb %M" -o $OUT/camel.time \
    nice -n 5 $PY -m mlintegrate integrate camel --dim 4 --backend bvae --train-calls 500000 --calls 200000 --seed 4 --json $OUT/camel_out.json > $OUT/camel.log 2>&1
  uptime >> $OUT/camel.meta
else
  rm -rf $OUT/compare_dir; mkdir -p $OUT/compare_dir
  { date -u +%FT%TZ; uptime; git rev-parse HEAD; } > $OUT/compare.meta
  PYTHONPATH=$PWD /usr/bin/time -f "wall_s %e user_s %U sys_s %S maxrss_kb %M" -o $OUT/compare.time \
    nice -n 5 $PY -m mlintegrate compare ee_qqg --backends vegas,flow,bvae --train-calls 1000000 --calls 200000 --seed 4 --out $OUT/compare_dir > $OUT/compare.log 2>&1
  uptime >> $OUT/compare.meta
fi
