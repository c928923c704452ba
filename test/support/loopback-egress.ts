import { Egress } from '../../src/http/egress.js';

/** Test apps' egress policy: their upstreams and fakes listen on loopback (test-app.ts sets the same networks). */
export const LOOPBACK_NETWORKS = '127.0.0.0/8,::1/128';

export const loopbackEgress = new Egress(LOOPBACK_NETWORKS.split(','));
