// The API, described once: the discovery documents (APIGroupList, APIResourceList, aggregated discovery v2) and the
// OpenAPI v2/v3 documents (what `kubectl explain greetings` reads) are all built from this definition by
// kube-delegated-auth/apiserver. A typo in it (a verb, a kind) fails at startup with every problem listed.
import type { ApiGroupDefinition } from 'kube-delegated-auth/apiserver';

export const group = 'hello.example.com';
export const version = 'v1alpha1';

export const helloApi: ApiGroupDefinition = {
  name: group,
  versions: [
    {
      version,
      resources: [
        {
          name: 'greetings',
          singularName: 'greeting',
          kind: 'Greeting',
          namespaced: true,
          verbs: ['create', 'get', 'list'], // what src/app.ts serves: keep the two in step
          shortNames: ['gr'],
          description: 'A Greeting is a message this extension apiserver keeps (in memory, per replica).',
          schema: {
            type: 'object',
            properties: {
              spec: {
                type: 'object',
                description: 'What the greeting says.',
                required: ['message'],
                properties: { message: { type: 'string', description: 'The message, e.g. "hello".' } },
              },
            },
          },
        },
      ],
    },
  ],
};
