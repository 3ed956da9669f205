"""What the built-in weights' card (``assets/<name>.json``) measures: the file's sha256, the verdict bands
calibrated on real photos and the reported figures, each naming its data in its ``protocol``.

Generated from the card by :func:`laanet_model.builtin_card_source.write_builtin_card_module`; do not edit.
"""

from __future__ import annotations

from typing import Any

BUILTIN_SHA256 = 'c6b7379b74383a751ba8a89716d276a13acb84aeac81b3c47e3292c16cf52e7b'
BUILTIN_REAL_BELOW = 0.0533
BUILTIN_FAKE_ABOVE = 0.8698
BUILTIN_METRICS: dict[str, Any] = {'dfdc_crops': {'ap': 0.6564,
                'auc': 0.6399,
                'fake_called_fake': 0.1212,
                'n_fake': 33,
                'n_real': 34,
                'no_face_found': 2,
                'protocol': 'frame level: every image of dfdc-crops/real and dfdc-crops/fake through '
                            "Detector.predict_image (the card's face finder and crop recipe, flip test); the "
                            'frame logit is the most fake face; an image with no face found is warped whole '
                            'to the input size and scored as one face. Never used for training, selection or '
                            'calibration.',
                'real_called_fake': 0.0882},
 'groups_faces': {'called_fake': 2, 'false_positive_rate': 0.1538, 'median_prob': 0.1899, 'n': 13},
 'lfw_heldout_resolutions': {'0.5x area': {'called_fake': 2,
                                           'false_positive_rate': 0.0333,
                                           'median_prob': 0.0404,
                                           'n': 60,
                                           'no_face_found': 0},
                             '1x': {'called_fake': 3,
                                    'false_positive_rate': 0.05,
                                    'median_prob': 0.0289,
                                    'n': 60,
                                    'no_face_found': 0},
                             '4x cubic': {'called_fake': 3,
                                          'false_positive_rate': 0.05,
                                          'median_prob': 0.0281,
                                          'n': 60,
                                          'no_face_found': 0}},
 'portraits_reported': {'called_fake': 1,
                        'false_positive_rate': 0.0323,
                        'images': 31,
                        'median_prob': 0.0256,
                        'n': 31,
                        'no_face_found': 0},
 'real_photos': {'called_fake': 4,
                 'false_positive_rate': 0.0563,
                 'median_prob': 0.0338,
                 'n': 71,
                 'protocol': 'fraction of real photos called fake (probability above fake_above): the '
                             'reported halves of faces/portraits and faces/realworld (every image) and every '
                             'face of faces/groups, pooled; never used for calibration or selection'},
 'realworld': {'called_fake': 1,
               'false_positive_rate': 0.037,
               'images': 27,
               'median_prob': 0.0322,
               'n': 27,
               'no_face_found': 0},
 'resolution_consistency': {'max_abs_prob_change': 0.8862,
                            'median_abs_logit_change': 0.2679,
                            'median_abs_prob_change': 0.0053,
                            'n': 29,
                            'p90_abs_logit_change': 3.422,
                            'protocol': 'reported portraits: |change| of the frame logit and probability '
                                        'when the photo is shrunk to a quarter of its side (area averaging)'},
 'resolution_sweep': {'images': 31,
                      'max_prob_spread': 0.9452,
                      'median_prob_spread': 0.0068,
                      'n': 31,
                      'protocol': 'reported portraits, each saved at 240p, 480p, 720p, 1080p (area averaging '
                                  'when shrinking, bicubic when enlarging): the spread (max - min) of its '
                                  'fake probability; within_tolerance is the share of photos with a spread '
                                  'of at most 0.2 (photos with no judged face at some height are left out)',
                      'within_tolerance': 0.8065},
 'synthetic_test': {'bi': {'ap': 0.8525, 'auc': 0.8614, 'fakes_called_fake': 0.1667, 'n_pairs': 60},
                    'protocol': '60 LFW faces of peopleDevTest.txt identities not used by the synthetic '
                                'validation, one per person; each with one SBI fake and one BI fake (donor '
                                "from another of these people), crops from the card's recipe, flip test",
                    'sbi': {'ap': 0.9553, 'auc': 0.9536, 'fakes_called_fake': 0.5167, 'n_pairs': 60}},
 'synthetic_val': {'acc_at_0.5': 0.858, 'ap': 0.9587, 'auc': 0.9459, 'loss': 1.1614, 'n_pairs': 250}}
