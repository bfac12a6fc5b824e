# Sample extension apiserver image: multi-stage, non-root.
#   docker build -t kube-delegated-auth-sample:dev .
FROM node:22-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json tsconfig.cli.json ./
COPY lib ./lib
COPY cli ./cli
COPY examples/sample-apiserver ./examples/sample-apiserver
COPY fixtures ./fixtures
RUN npm run build && npm prune --omit=dev

FROM node:22-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY --from=build /src/fixtures ./fixtures
USER 65532:65532
EXPOSE 8443
ENTRYPOINT ["node", "/app/dist/cli/main.js"]
CMD ["serve"]
