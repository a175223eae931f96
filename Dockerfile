# tide appliance image: Debian 12 + the same set-up script a newcomer and CI use, so the
# image cannot drift from them. DPDK needs root and, for line rate, hugepages from the host:
#   docker run --privileged -v /dev/hugepages:/dev/hugepages tide --demo --out /data/demo
FROM debian:12
WORKDIR /opt/tide
COPY . .
RUN bash scripts/setup.sh && rm -rf /var/lib/apt/lists/*
VOLUME /data
ENTRYPOINT ["/opt/tide/build/dataplane/tide-dataplane"]
CMD ["--demo", "--out", "/data/demo", "--max-duration", "10"]
