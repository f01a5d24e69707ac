/** One repository per aggregate, bound to a connection. */
import type { Db } from '../db.js';
import { AnnotationHistoryRepo } from './annotation-history.js';
import { CacheRepo } from './cache.js';
import { DatasetsRepo } from './datasets.js';
import { ImagesRepo } from './images.js';
import { ModelsRepo } from './models.js';
import { PairsRepo } from './pairs.js';
import { PromptsRepo } from './prompts.js';
import { GeneratedImagesRepo } from './generated-images.js';
import { EvalResultsRepo, RunsRepo } from './runs.js';
import { SettingsRepo } from './settings.js';
import { SuggestionsRepo } from './suggestions.js';

export interface Repos {
  datasets: DatasetsRepo;
  images: ImagesRepo;
  pairs: PairsRepo;
  models: ModelsRepo;
  prompts: PromptsRepo;
  runs: RunsRepo;
  evalResults: EvalResultsRepo;
  cache: CacheRepo;
  annotationHistory: AnnotationHistoryRepo;
  suggestions: SuggestionsRepo;
  generated: GeneratedImagesRepo;
  settings: SettingsRepo;
}

export function repos(db: Db): Repos {
  return {
    datasets: new DatasetsRepo(db),
    images: new ImagesRepo(db),
    pairs: new PairsRepo(db),
    models: new ModelsRepo(db),
    prompts: new PromptsRepo(db),
    runs: new RunsRepo(db),
    evalResults: new EvalResultsRepo(db),
    cache: new CacheRepo(db),
    annotationHistory: new AnnotationHistoryRepo(db),
    suggestions: new SuggestionsRepo(db),
    generated: new GeneratedImagesRepo(db),
    settings: new SettingsRepo(db),
  };
}

export * from './annotation-history.js';
export * from './cache.js';
export * from './datasets.js';
export * from './generated-images.js';
export * from './images.js';
export * from './models.js';
export * from './pairs.js';
export * from './prompts.js';
export * from './runs.js';
export * from './settings.js';
export * from './suggestions.js';
