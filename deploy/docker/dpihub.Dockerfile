# dpihub (serve, serve --site, deploy streams, healthcheck) and the feed,
# built static by make images (CGO_ENABLED=0).
FROM scratch
COPY bin/dpihub bin/feed /
ENTRYPOINT ["/dpihub"]
