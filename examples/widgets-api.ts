// The API an extension apiserver serves, described once for discovery and OpenAPI (kube-delegated-auth/apiserver).
// docs/apiserver.md walks through it; examples/apiserver-blocks.ts serves it.
import type { ApiGroupDefinition } from 'kube-delegated-auth/apiserver';

export const widgetsApi: ApiGroupDefinition = {
  name: 'sample.example.com',
  versions: [
    {
      version: 'v1alpha1',
      resources: [
        {
          name: 'widgets',
          singularName: 'widget',
          kind: 'Widget',
          namespaced: true,
          verbs: ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'],
          shortNames: ['wd'],
          categories: ['all'],
          subresources: [{ name: 'status', verbs: ['get', 'patch', 'update'] }],
          description: 'A Widget is a thing this extension apiserver keeps.',
          schema: {
            type: 'object',
            properties: {
              spec: {
                type: 'object',
                description: 'What the widget should be.',
                required: ['size'],
                properties: {
                  size: { type: 'integer', format: 'int32', minimum: 1, description: 'How big, in units.' },
                  color: { type: 'string', enum: ['red', 'green', 'blue'], description: 'The paint.' },
                },
              },
              status: {
                type: 'object',
                description: 'What the widget is.',
                properties: { ready: { type: 'boolean', description: 'Built and painted.' } },
              },
            },
          },
        },
        {
          name: 'gadgets',
          singularName: 'gadget',
          kind: 'Gadget',
          namespaced: false,
          verbs: ['get', 'list'],
        },
      ],
    },
  ],
};
