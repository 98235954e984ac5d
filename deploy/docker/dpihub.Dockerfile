# dpihub (serve, serve --site, deploy streams, healthcheck) and the feed,
# built static by make images (CGO_ENABLED=0); and root/, which
# deploy/docker/siteroot.sh writes: Debian's git with its libraries (the
# node runs git), /tmp, and the sample forks of the sites (/srv/forks).
FROM scratch
COPY root/ /
COPY bin/dpihub bin/feed /
ENTRYPOINT ["/dpihub"]
