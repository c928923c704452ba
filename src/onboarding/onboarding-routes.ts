import { Router } from 'express';
import type { Services } from '../services.js';
import { setupLinkRoutes } from './setup-routes.js';
import { signupRoutes } from './signup-routes.js';
import { entraOnboardingRoutes } from './entra-routes.js';
import { googleOnboardingRoutes } from './google-routes.js';

/** Root-level onboarding: self-service sign-up, setup links, and the catalog install flows (Entra, Google). */
export function onboardingRoutes(s: Services): Router {
  const r = Router();
  r.use(signupRoutes(s));
  r.use(setupLinkRoutes(s));
  r.use(entraOnboardingRoutes(s));
  r.use(googleOnboardingRoutes(s));
  return r;
}
