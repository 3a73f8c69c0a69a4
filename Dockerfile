# Build: the release binary (templates, translations and the stylesheet are compiled in).
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY templates ./templates
COPY locales ./locales
COPY static ./static
COPY courrier.example.toml ./
RUN cargo build --release --locked

# Run: a small image, an unprivileged user, configuration from the environment.
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home-dir /var/lib/courrier --create-home courrier
COPY --from=build /src/target/release/courrier /usr/local/bin/courrier
USER courrier
WORKDIR /var/lib/courrier
ENV COURRIER_SERVER_LISTEN=0.0.0.0:8080 \
    COURRIER_SERVER_DATA_DIR=/var/lib/courrier
EXPOSE 8080
# The binary asks its own /healthz (no curl in the image).
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/courrier", "--healthcheck"]
# SIGTERM stops it gracefully (requests in flight finish, event streams end, IMAP logs out).
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/courrier"]
