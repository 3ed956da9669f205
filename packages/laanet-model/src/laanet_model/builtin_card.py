"""What the built-in weights' card (``assets/<name>.json``) measures: the file's sha256, the verdict bands
calibrated on real photos and the reported figures, each naming its data in its ``protocol``.

Generated from the card by :func:`laanet_model.builtin_card_source.write_builtin_card_module`; do not edit.
"""

from __future__ import annotations

from typing import Any

BUILTIN_SHA256 = '84854214345fa58513d09bf1c41117fa555a94d274809363a6faa9498e668bb4'
BUILTIN_REAL_BELOW = 0.0123
BUILTIN_FAKE_ABOVE = 0.962
BUILTIN_METRICS: dict[str, Any] = {'dfdc_crops': {'ap': 0.6555,
                'auc': 0.6248,
                'fake_called_fake': 0.1212,
                'n_fake': 33,
                'n_real': 34,
                'no_face_found': 2,
                'protocol': 'frame level: every image of dfdc-crops/real and dfdc-crops/fake through '
                            "Detector.predict_image (the card's face finder and crop recipe, flip test); the "
                            'frame logit is the most fake face; an image with no face found is warped whole '
                            'to the input size and scored as one face. Never used for training, selection or '
                            'calibration.',
                'real_called_fake': 0.0294},
 'groups_faces': {'called_fake': 1, 'false_positive_rate': 0.0714, 'median_prob': 0.252, 'n': 14},
 'lfw_heldout_resolutions': {'0.5x area': {'called_fake': 2,
                                           'false_positive_rate': 0.0333,
                                           'median_prob': 0.0061,
                                           'n': 60,
                                           'no_face_found': 0},
                             '1x': {'called_fake': 4,
                                    'false_positive_rate': 0.0667,
                                    'median_prob': 0.0071,
                                    'n': 60,
                                    'no_face_found': 0},
                             '4x cubic': {'called_fake': 2,
                                          'false_positive_rate': 0.0333,
                                          'median_prob': 0.0097,
                                          'n': 60,
                                          'no_face_found': 0}},
 'portraits_reported': {'called_fake': 2,
                        'false_positive_rate': 0.0645,
                        'images': 31,
                        'median_prob': 0.005,
                        'n': 31,
                        'no_face_found': 0},
 'real_photos': {'called_fake': 3,
                 'false_positive_rate': 0.0417,
                 'median_prob': 0.0101,
                 'n': 72,
                 'protocol': 'fraction of real photos called fake (probability above fake_above): the '
                             'reported halves of faces/portraits and faces/realworld (every image) and every '
                             'face of faces/groups, pooled; never used for calibration or selection'},
 'realworld': {'called_fake': 0,
               'false_positive_rate': 0.0,
               'images': 27,
               'median_prob': 0.0114,
               'n': 27,
               'no_face_found': 0},
 'resolution_consistency': {'max_abs_prob_change': 0.9547,
                            'median_abs_logit_change': 0.5826,
                            'median_abs_prob_change': 0.0016,
                            'n': 29,
                            'p90_abs_logit_change': 5.7264,
                            'protocol': 'reported portraits: |change| of the frame logit and probability '
                                        'when the photo is shrunk to a quarter of its side (area averaging)'},
 'resolution_sweep': {'images': 31,
                      'max_prob_spread': 0.9899,
                      'median_prob_spread': 0.0032,
                      'n': 31,
                      'protocol': 'reported portraits, each saved at 240p, 480p, 720p, 1080p (area averaging '
                                  'when shrinking, bicubic when enlarging): the spread (max - min) of its '
                                  'fake probability; within_tolerance is the share of photos with a spread '
                                  'of at most 0.2 (photos with no judged face at some height are left out)',
                      'within_tolerance': 0.7742},
 'synthetic_test': {'bi': {'ap': 0.7963, 'auc': 0.8047, 'fakes_called_fake': 0.1, 'n_pairs': 60},
                    'protocol': '60 LFW faces of peopleDevTest.txt identities not used by the synthetic '
                                'validation, one per person; each with one SBI fake and one BI fake (donor '
                                "from another of these people), crops from the card's recipe, flip test",
                    'sbi': {'ap': 0.9331, 'auc': 0.92, 'fakes_called_fake': 0.4833, 'n_pairs': 60}},
 'synthetic_val': {'acc_at_0.5': 0.864, 'ap': 0.9447, 'auc': 0.9208, 'loss': 1.4595, 'n_pairs': 250}}
