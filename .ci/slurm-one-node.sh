#!/usr/bin/env bash
# A Slurm cluster of one node, this machine, for the process pool's Slurm tests
# (crates/braid-procpool/tests/slurm.rs): Debian's slurm-wlm and munge, run as root, without
# cgroups (processes are tracked through /proc, tasks are not confined). Idempotent: what
# already runs is left running. Prints `sinfo` once the node takes jobs.
#
# To stop it: kill $(cat /run/slurmctld.pid /run/slurmd.pid /run/munge/munged.pid)
set -euo pipefail

if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq || { sleep 10; apt-get update -qq; }
    apt-get install -y -qq slurm-wlm munge >/dev/null
fi

node=$(hostname -s)
cpus=$(nproc)

# munge signs the messages between Slurm's daemons and its commands; one key, one host.
mkdir -p /etc/munge /run/munge /var/lib/munge /var/log/munge
if [ ! -s /etc/munge/munge.key ]; then
    head -c 1024 /dev/urandom > /etc/munge/munge.key
fi
chown -R munge:munge /etc/munge /run/munge /var/lib/munge /var/log/munge
chmod 0400 /etc/munge/munge.key
if ! munge -n >/dev/null 2>&1; then
    su -s /bin/sh munge -c '/usr/sbin/munged --force'
fi
for _ in $(seq 100); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.1; done
munge -n | unmunge >/dev/null || { echo "munged is not answering" >&2; exit 1; }

mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm
cat > /etc/slurm/slurm.conf <<EOF
ClusterName=braid-ci
SlurmctldHost=$node
SlurmUser=root
SlurmdUser=root
# No cgroups on a CI machine: track processes through /proc, confine nothing.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
# Cores are what jobs ask for, so single-core steps share the node.
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
ReturnToService=2
NodeName=$node CPUs=$cpus RealMemory=2000 State=UNKNOWN
PartitionName=debug Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF

pgrep -x slurmctld >/dev/null || slurmctld
pgrep -x slurmd >/dev/null || slurmd
for _ in $(seq 100); do
    sinfo -h -o %T 2>/dev/null | grep -qE '^(idle|mixed|allocated)' && break
    sleep 0.2
done
sinfo
sinfo -h -o %T | grep -qE '^(idle|mixed|allocated)' || {
    echo "the Slurm node did not come up; see /var/log/slurm/" >&2
    exit 1
}
srun -n 1 true
