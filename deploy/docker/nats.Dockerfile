# nats-server, built static by make images (CGO_ENABLED=0), and dpihub for
# the HEALTHCHECK: no registry is needed, nothing but these two files.
FROM scratch
COPY bin/nats-server bin/dpihub /
ENTRYPOINT ["/nats-server"]
