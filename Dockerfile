# The mlfleet image: one image for the api and the worker (`docker compose up` picks the command).
FROM node:20-bookworm-slim

ENV NODE_ENV=production
WORKDIR /app

# Dependencies first, so a source change does not reinstall them.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force

COPY . .

# Local state (stage working folders) lives outside the source tree, owned by the unprivileged user.
RUN mkdir -p /var/lib/mlfleet && chown node:node /var/lib/mlfleet
ENV MLFLEET_DATA_DIR=/var/lib/mlfleet
USER node

EXPOSE 5000
ENTRYPOINT ["node", "bin/mlfleet.cjs"]
CMD ["api"]
