import type { Offer } from '../../domain/offer';
import type { Cloud } from '../../domain/pipeline-spec';

/**
 * What a live price source does not say, looked up in a reference catalog (the bundled one): VM
 * shapes for Azure and GCP, on-demand prices for AWS, and every cloud's interruption rates.
 */
export class PriceReference {
  private readonly byPlace = new Map<string, Offer>();
  private readonly byRegion = new Map<string, Offer>();
  private readonly byType = new Map<string, Offer>();

  constructor(readonly offers: readonly Offer[]) {
    for (const offer of offers) {
      this.byPlace.set(placeKey(offer.cloud, offer.region, offer.zone, offer.instance_type), offer);
      const regional = placeKey(offer.cloud, offer.region, null, offer.instance_type);
      if (!this.byRegion.has(regional)) this.byRegion.set(regional, offer);
      const typeKey = placeKey(offer.cloud, '', null, offer.instance_type);
      if (!this.byType.has(typeKey)) this.byType.set(typeKey, offer);
    }
  }

  /** The reference row of that zone, else any of that region. */
  find(cloud: Cloud, region: string, zone: string | null, instanceType: string): Offer | undefined {
    return this.byPlace.get(placeKey(cloud, region, zone, instanceType)) ?? this.byRegion.get(placeKey(cloud, region, null, instanceType));
  }

  /**
   * The row that best describes that type in that place: of that zone, else of that region, else of
   * any region (a type's shape is the same everywhere; its interruption rate is the nearest known).
   */
  describe(cloud: Cloud, region: string, zone: string | null, instanceType: string): Offer | undefined {
    return this.find(cloud, region, zone, instanceType) ?? this.byType.get(placeKey(cloud, '', null, instanceType));
  }

  /** The cloud's instance types, each once, in catalog order. */
  instanceTypes(cloud: Cloud): string[] {
    return [...new Set(this.offers.filter((o) => o.cloud === cloud).map((o) => o.instance_type))];
  }

  /** The cloud's rows. */
  of(cloud: Cloud): Offer[] {
    return this.offers.filter((o) => o.cloud === cloud);
  }
}

const placeKey = (cloud: Cloud, region: string, zone: string | null, instanceType: string): string =>
  JSON.stringify([cloud, region, zone, instanceType]);
