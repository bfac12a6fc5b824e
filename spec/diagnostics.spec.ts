import { channel } from 'node:diagnostics_channel';
import { expect } from 'chai';
import { authenticationChannel, authorizationChannel, channelNames } from '../lib/diagnostics.js';
import * as pipeline from '../lib/http/pipeline.js';
import * as metrics from '../lib/metrics/metrics.js';

describe('diagnostics (channel names declared once)', () => {
  it('the declared channels are the ones the pipeline publishes on', () => {
    expect(authenticationChannel).to.equal(pipeline.authenticationChannel);
    expect(authorizationChannel).to.equal(pipeline.authorizationChannel);
    expect(authenticationChannel).to.equal(channel('kube-delegated-auth:authn'));
  });

  it('lib/metrics subscribes to the same names', () => {
    expect({ ...metrics.channelNames }).to.deep.equal({ ...channelNames });
  });
});
