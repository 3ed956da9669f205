"""What the built-in weights' card (``assets/<name>.json``) measures: the file's sha256, the verdict bands
calibrated on real photos and the reported figures, each naming its data in its ``protocol``.

Generated from the card by :func:`laanet_model.builtin_card_source.write_builtin_card_module`; do not edit.
"""

from __future__ import annotations

from typing import Any

BUILTIN_SHA256 = '7416e150aa813856a6d14a93105c61b5f528ee85112832bafcfe4a324630ecbd'
BUILTIN_REAL_BELOW = 0.3851
BUILTIN_FAKE_ABOVE = 0.8076
BUILTIN_METRICS: dict[str, Any] = {'dfdc_crops': {'ap': 0.6067,
                'auc': 0.631,
                'fake_called_fake': 0.2727,
                'n_fake': 33,
                'n_real': 34,
                'no_face_found': 2,
                'protocol': 'frame level: every image of dfdc-crops/real and dfdc-crops/fake through '
                            "Detector.predict_image (the card's face finder and crop recipe, flip test); the "
                            'frame logit is the most fake face; an image with no face found is warped whole '
                            'to the input size and scored as one face. Never used for training, selection or '
                            'calibration.',
                'real_called_fake': 0.1765},
 'fake_clips': {'called_fake': 1,
                'n': 2,
                'probs': {'0017_fake': 0.9962, '0048_fake': 0.8042},
                'protocol': 'video level: the clips of videos/ that their source names fake (0017_fake.mp4, '
                            '0048_fake.mp4; DFDC-style face swaps), each as laanet predict scores it (the '
                            "recipe's frames_per_video evenly spaced frames, the most fake face of each "
                            'frame, the sigmoid of the mean frame logit); called_fake counts those above '
                            'fake_above. Two clips: no AUC. Never used for training, selection or '
                            'calibration.'},
 'groups_faces': {'called_fake': 1, 'false_positive_rate': 0.0769, 'median_prob': 0.5126, 'n': 13},
 'lfw_heldout_resolutions': {'0.5x area': {'called_fake': 1,
                                           'false_positive_rate': 0.0167,
                                           'median_prob': 0.3346,
                                           'n': 60,
                                           'no_face_found': 0},
                             '1x': {'called_fake': 2,
                                    'false_positive_rate': 0.0333,
                                    'median_prob': 0.3048,
                                    'n': 60,
                                    'no_face_found': 0},
                             '4x cubic': {'called_fake': 2,
                                          'false_positive_rate': 0.0333,
                                          'median_prob': 0.3013,
                                          'n': 60,
                                          'no_face_found': 0}},
 'portraits_reported': {'called_fake': 1,
                        'false_positive_rate': 0.0323,
                        'images': 31,
                        'median_prob': 0.2859,
                        'n': 31,
                        'no_face_found': 0},
 'real_photos': {'called_fake': 3,
                 'false_positive_rate': 0.0423,
                 'median_prob': 0.312,
                 'n': 71,
                 'protocol': 'fraction of real photos called fake (probability above fake_above): the '
                             'reported halves of faces/portraits and faces/realworld (every image) and every '
                             'face of faces/groups, pooled; never used for calibration or selection'},
 'realworld': {'called_fake': 1,
               'false_positive_rate': 0.037,
               'images': 27,
               'median_prob': 0.312,
               'n': 27,
               'no_face_found': 0},
 'resolution_consistency': {'max_abs_prob_change': 0.6681,
                            'median_abs_logit_change': 0.0918,
                            'median_abs_prob_change': 0.0184,
                            'n': 29,
                            'p90_abs_logit_change': 0.8876,
                            'protocol': 'reported portraits: |change| of the frame logit and probability '
                                        'when the photo is shrunk to a quarter of its side (area averaging)'},
 'resolution_sweep': {'images': 31,
                      'max_prob_spread': 0.5422,
                      'median_prob_spread': 0.0356,
                      'n': 31,
                      'protocol': 'reported portraits, each saved at 240p, 480p, 720p, 1080p (area averaging '
                                  'when shrinking, bicubic when enlarging): the spread (max - min) of its '
                                  'fake probability; within_tolerance is the share of photos with a spread '
                                  'of at most 0.2 (photos with no judged face at some height are left out)',
                      'within_tolerance': 0.9355},
 'synthetic_test': {'bi': {'ap': 0.8978, 'auc': 0.9139, 'fakes_called_fake': 0.3, 'n_pairs': 60},
                    'protocol': '60 LFW faces of peopleDevTest.txt identities not used by the synthetic '
                                'validation, one per person; each with one SBI fake and one BI fake (donor '
                                "from another of these people), crops from the card's recipe, flip test",
                    'sbi': {'ap': 0.9626, 'auc': 0.9639, 'fakes_called_fake': 0.6167, 'n_pairs': 60}},
 'synthetic_val': {'acc_at_0.5': 0.892, 'ap': 0.9692, 'auc': 0.9582, 'loss': 1.0742, 'n_pairs': 250}}
